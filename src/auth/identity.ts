/**
 * Identity comes only from a verified JWT (HS256): tenant, role and region scope.
 * Never from a plain header, an argument or a variable.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { LRUCache } from 'lru-cache';
import { unauthenticated, invalidInput } from '../errors.js';
import { isRegion, type DataScope, type Region } from '../source/types.js';

/**
 * The roles a token's `role` claim may name (CONTRACT.md, "Identity"). ADMIN and ANALYST
 * read everything and record orders and sessions, and only ADMIN invalidates metrics;
 * VIEWER reads everything but revenue and writes nothing.
 */
export const ROLES = ['ADMIN', 'ANALYST', 'VIEWER'] as const;
/** One of `ROLES`; what may be read is decided in src/auth/policy.ts. */
export type Role = (typeof ROLES)[number];

/** The verified caller. */
export interface Identity {
  readonly subject: string;
  readonly tenant: string;
  readonly role: Role;
  /** Set when the caller may see one region only. */
  readonly region?: Region | undefined;
  /** Expiry, epoch milliseconds. */
  readonly expiresAt: number;
}

/** The data a caller may see: tenant and, when the token names one, region. */
export function scopeOf(identity: Identity): DataScope {
  return identity.region === undefined ? { tenant: identity.tenant } : { tenant: identity.tenant, region: identity.region };
}

const MAX_TENANT_LENGTH = 128;

/**
 * Why `tenant` cannot be a tenant id, or undefined when it can: 1 to 128 UTF-16 code
 * units of well-formed text without control characters. Anything else is allowed
 * (separators, braces, `%`, lookalikes, emoji): cache keys escape every component
 * (src/cache/keys.ts). Refused: a lone surrogate, because a token carries UTF-8 and the
 * encoder turns it into U+FFFD, so the verified tenant would be another tenant than the
 * one asked for (`a\uD800` and `a\uDC00` both `a\uFFFD`); and control characters (C0,
 * DEL, C1), since PostgreSQL text cannot hold NUL (every query of such a tenant would
 * fail) and the others only garble logs.
 */
function tenantProblem(tenant: unknown): string | undefined {
  if (typeof tenant !== 'string' || tenant === '' || tenant.length > MAX_TENANT_LENGTH)
    return `a string of 1 to ${MAX_TENANT_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(tenant)) return 'free of control characters (NUL, newline, escape, …)';
  if (/\p{Cs}/u.test(tenant)) return 'well-formed Unicode (no lone surrogate)';
  return undefined;
}
/** Clock skew tolerated on `exp`, in seconds. */
const CLOCK_TOLERANCE_S = 5;

/**
 * Tokens already verified, per secret: a signature that verified once verifies again
 * (HMAC is deterministic) and `nbf` cannot un-pass, so only the expiry is checked again.
 * A dashboard sends the same token with every request; verifying it each time was a
 * sixth of a warm request's CPU (WebCrypto HMAC, a key import, a thread-pool hop).
 * Failures are never remembered. Bounded; least recently used out first.
 */
const verified = new WeakMap<Uint8Array, LRUCache<string, Identity>>();
const VERIFIED_MAX = 10_000;

/**
 * Verifies an `Authorization` header value (`Bearer <JWT>`).
 * @throws DomainError E_UNAUTHENTICATED with a message that says what is wrong.
 */
export async function verifyAuthorization(header: string | null | undefined, secret: Uint8Array): Promise<Identity> {
  if (!header) throw unauthenticated('Missing token: send "Authorization: Bearer <JWT>" (npm run token prints one).');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthenticated('Malformed Authorization header: expected "Bearer <JWT>".');
  let known = verified.get(secret);
  if (!known) verified.set(secret, (known = new LRUCache<string, Identity>({ max: VERIFIED_MAX })));
  const token = match[1]!;
  const remembered = known.get(token);
  // Still within its expiry, as jose would judge it (with the same tolerance); else jose says why not.
  if (remembered && Date.now() < remembered.expiresAt + CLOCK_TOLERANCE_S * 1000) return remembered;
  const identity = await verifyToken(token, secret);
  known.set(token, identity);
  return identity;
}

async function verifyToken(token: string, secret: Uint8Array): Promise<Identity> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, secret, {
      algorithms: ['HS256'],
      requiredClaims: ['sub', 'exp'],
      clockTolerance: CLOCK_TOLERANCE_S,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw unauthenticated('Token expired: get a new one.', error);
    throw unauthenticated('Invalid token: its signature, algorithm (HS256) or claims could not be verified.', error);
  }
  const { sub, tenant, role, region, exp } = payload;
  if (typeof sub !== 'string' || sub === '') throw unauthenticated('Invalid token: claim "sub" must be a non-empty string.');
  const problem = tenantProblem(tenant);
  if (problem !== undefined) throw unauthenticated(`Invalid token: claim "tenant" must be ${problem}.`);
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw unauthenticated(`Invalid token: claim "role" must be one of ${ROLES.join(', ')}.`);
  }
  if (region !== undefined && (typeof region !== 'string' || !isRegion(region))) {
    throw unauthenticated('Invalid token: claim "region", when present, must be one of EU, NA, APAC.');
  }
  return Object.freeze({
    subject: sub,
    tenant: tenant as string,
    role: role as Role,
    region,
    expiresAt: (exp as number) * 1000,
  });
}

/** What `signToken` needs; ttl defaults to 12 hours. */
export interface TokenClaims {
  tenant: string;
  role: string;
  region?: string | undefined;
  subject?: string | undefined;
  /** Lifetime in milliseconds. @default 43200000 (12 hours) */
  ttlMs?: number | undefined;
}

/**
 * Signs a token for the given claims, validating them first.
 * @throws DomainError E_INVALID_INPUT naming the bad claim.
 */
export async function signToken(claims: TokenClaims, secret: Uint8Array, nowMs = Date.now()): Promise<string> {
  const problem = tenantProblem(claims.tenant);
  if (problem !== undefined) throw invalidInput('tenant', `tenant must be ${problem}, got ${JSON.stringify(claims.tenant)}`);
  if (!(ROLES as readonly string[]).includes(claims.role)) {
    throw invalidInput('role', `role must be one of ${ROLES.join(', ')}, got "${claims.role}"`);
  }
  if (claims.region !== undefined && !isRegion(claims.region)) {
    throw invalidInput('region', `region must be one of EU, NA, APAC, got "${claims.region}"`);
  }
  const ttlMs = claims.ttlMs ?? 12 * 3_600_000;
  const body: Record<string, unknown> = { tenant: claims.tenant, role: claims.role };
  if (claims.region !== undefined) body.region = claims.region;
  return new SignJWT(body)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.subject ?? `dev-${claims.role.toLowerCase()}@${claims.tenant}`)
    .setIssuedAt(Math.floor(nowMs / 1000))
    .setExpirationTime(Math.floor((nowMs + ttlMs) / 1000))
    .sign(secret);
}
