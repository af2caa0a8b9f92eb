/**
 * The page's HTTP client of the API: queries as GET (so that the answer carries
 * `Cache-Control: max-age` and an ETag, and the browser revalidates rather than
 * re-downloads), development tokens, and what a token claims.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { maxAgeOf } from './cache-details.js';
import { badAnswerProblem, networkProblem, problemOf, type GraphQLErrorLike, type Problem, type ProblemContext } from './problems.js';

/** One answer of the API, with what its headers say. */
export interface Answer<T> {
  /** `data`; null or absent when the request failed as a whole (then `request` threw instead). */
  data: T;
  /** Field errors: a VIEWER's FORBIDDEN revenue, an FX vendor that is down. */
  errors: GraphQLErrorLike[];
  extensions: Record<string, unknown>;
  /** The `Cache-Control` header, as sent. */
  cacheControl: string | null;
  /** Seconds the answer stays fresh, from `Cache-Control`. */
  maxAgeS: number | undefined;
  requestId: string | undefined;
  /** When the answer arrived, epoch ms. */
  at: number;
  /** How long the request took, ms. */
  ms: number;
}

/** A request that produced no data: the token, a limit, the network. */
export class RequestFailed extends Error {
  constructor(readonly problem: Problem) {
    super(problem.title);
    this.name = 'RequestFailed';
  }
}

/** Where the API is and who is asking. */
export interface ApiContext extends ProblemContext {
  /** The `Authorization` bearer token. */
  token: string;
  /** Origin of the API; the page's own. */
  origin: string;
}

/**
 * Sends `document` with `variables` as a GET, revalidating any copy the browser holds
 * (`cache: 'no-cache'`: a 304 when the ETag still matches, else a new answer).
 * @throws RequestFailed when the answer has no data: with the problem to show.
 */
export async function request<T, V>(document: TypedDocumentNode<T, V>, variables: V, api: ApiContext): Promise<Answer<T>> {
  const url = new URL('/graphql', api.origin);
  url.searchParams.set('query', print(document));
  url.searchParams.set('variables', JSON.stringify(variables));
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'GET',
      cache: 'no-cache',
      headers: { accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${api.token}` },
    });
  } catch (error) {
    throw new RequestFailed(networkProblem(api.origin, error));
  }
  const requestId = response.headers.get('x-request-id') ?? undefined;
  let body: { data?: T | null; errors?: GraphQLErrorLike[]; extensions?: Record<string, unknown> };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new RequestFailed(badAnswerProblem(response.status, requestId));
  }
  const errors = body.errors ?? [];
  if (body.data === null || body.data === undefined) {
    const first = errors[0];
    throw new RequestFailed(first ? problemOf(first, api, requestId) : badAnswerProblem(response.status, requestId));
  }
  const cacheControl = response.headers.get('cache-control');
  return {
    data: body.data,
    errors,
    extensions: body.extensions ?? {},
    cacheControl,
    maxAgeS: maxAgeOf(cacheControl),
    requestId,
    at: Date.now(),
    ms: Math.round(performance.now() - started),
  };
}

/** What a token claims, read without verifying it (the server verifies): for display and advice only. */
export interface Claims {
  tenant?: string | undefined;
  role?: string | undefined;
  region?: string | undefined;
  /** Expiry, epoch ms. */
  expiresAt?: number | undefined;
}

/** The claims of a JWT's payload; empty when it is not one. */
export function claimsOf(token: string): Claims {
  const payload = token.split('.')[1];
  if (!payload) return {};
  try {
    const json = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const claims = JSON.parse(json) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return {
      tenant: text(claims.tenant),
      role: text(claims.role),
      region: text(claims.region),
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
    };
  } catch {
    return {};
  }
}

/** What the development token endpoint is asked for. */
export interface TokenRequest {
  tenant: string;
  role: string;
  /** Absent: every region. */
  region?: string | undefined;
}

/**
 * A development token from the server (`POST /dev/token`, outside production only).
 * @throws RequestFailed with the server's reason.
 */
export async function developmentToken(origin: string, wanted: TokenRequest): Promise<string> {
  let response: Response;
  try {
    response = await fetch(new URL('/dev/token', origin), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(wanted),
    });
  } catch (error) {
    throw new RequestFailed(networkProblem(origin, error));
  }
  const body = (await response.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!response.ok || !body.token) {
    throw new RequestFailed({
      code: 'DEV_TOKEN',
      title: `The server gave no development token: ${body.error ?? `HTTP ${response.status}`}.`,
      action: 'Development tokens exist only outside production; there, paste a token instead.',
    });
  }
  return body.token;
}
