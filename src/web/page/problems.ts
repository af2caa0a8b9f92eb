/**
 * Every failure the page can meet, as a message a person can act on: what happened,
 * and what to do about it. Pure: no DOM, so that the unit tests read the messages.
 */

/** An error as a GraphQL response carries it. */
export interface GraphQLErrorLike {
  message: string;
  path?: ReadonlyArray<string | number> | undefined;
  extensions?: { code?: unknown; [key: string]: unknown } | undefined;
}

/** One problem, as the page shows it. */
export interface Problem {
  /** The API's error code (`UNAUTHENTICATED`, `FORBIDDEN`, …), or the page's own (`NETWORK`, `LIVE_STOPPED`, …). */
  code: string;
  /** What happened, in a sentence. */
  title: string;
  /** What to do about it. */
  action: string;
  /** The server's own words, when they add something. */
  detail?: string | undefined;
  /** The `x-request-id` of the answer, for finding the server's log line. */
  requestId?: string | undefined;
}

/** Who is looking, which changes the advice. */
export interface ProblemContext {
  /** True when the server runs with NODE_ENV=production: no development tokens there. */
  production: boolean;
  /** The role the token claims, when known. */
  role?: string | undefined;
}

/** How a person gets a new token where they are. */
export function newTokenAdvice(context: ProblemContext): string {
  return context.production
    ? 'Paste a new token above (an operator prints one with `npm run token -- --tenant acme --role ADMIN`).'
    : 'Pick a tenant and role above and press “Get token” for a new development token, or paste one.';
}

/** The problem a GraphQL error stands for. */
export function problemOf(error: GraphQLErrorLike, context: ProblemContext, requestId?: string): Problem {
  const code = typeof error.extensions?.code === 'string' ? error.extensions.code : 'INTERNAL_SERVER_ERROR';
  const base = { code, detail: error.message, requestId };
  switch (code) {
    case 'UNAUTHENTICATED':
      if (/expired/i.test(error.message)) {
        return { ...base, title: 'Your token has expired.', action: newTokenAdvice(context) };
      }
      if (/missing/i.test(error.message)) {
        return { ...base, title: 'No token was sent.', action: newTokenAdvice(context) };
      }
      return {
        ...base,
        title: 'The server did not accept this token.',
        action: `It must be signed with this server's JWT_SECRET and name a tenant and a role. ${newTokenAdvice(context)}`,
      };
    case 'FORBIDDEN':
      return {
        ...base,
        title: `Not permitted for ${context.role ?? 'your role'}.`,
        action: 'Revenue is shown to ADMIN and ANALYST tokens only; ask for one of those to see it.',
      };
    case 'QUERY_TOO_COMPLEX':
      return { ...base, title: 'The server refused this query as too large.', action: 'Choose a shorter range, or DAY instead of HOUR.' };
    case 'PAYLOAD_TOO_LARGE':
      return { ...base, title: 'The request was larger than the server accepts.', action: 'Choose a shorter range or fewer panels.' };
    case 'BAD_USER_INPUT':
      return {
        ...base,
        title: error.message,
        detail: undefined,
        action: 'Change the range, granularity or currency above and the page asks again.',
      };
    case 'SERVICE_UNAVAILABLE':
      // The source database (the error names the metric it could not compute), else the FX vendor.
      if (typeof error.extensions?.metric === 'string' || /source database/.test(error.message)) {
        return {
          ...base,
          title: 'The database is not answering, and these values are not cached.',
          action: 'The other panels show what the cache holds. This one is asked again with the next change, or reload the page later.',
        };
      }
      return {
        ...base,
        title: 'The exchange-rate vendor is unavailable, and no earlier rate is cached.',
        action: 'The other panels are unaffected. This one is asked again with the next change, or reload the page later.',
      };
    default:
      return {
        ...base,
        title: 'The server failed to answer this.',
        action: `Try again (reload); if it keeps failing, look for request id ${requestId ?? '(none)'} in the server's logs.`,
      };
  }
}

/** The server could not be reached at all. */
export function networkProblem(origin: string, cause: unknown): Problem {
  return {
    code: 'NETWORK',
    title: `Cannot reach the API at ${origin}.`,
    action: 'Check that the server is running (`npm start`), then reload the page.',
    detail: cause instanceof Error ? cause.message : String(cause),
  };
}

/** An answer that is not GraphQL: a proxy's error page, a crash. */
export function badAnswerProblem(status: number, requestId?: string): Problem {
  return {
    code: 'BAD_RESPONSE',
    title: `The server answered HTTP ${status} without a GraphQL response.`,
    action: `Reload the page; if it keeps happening, look for request id ${requestId ?? '(none)'} in the server's logs.`,
    requestId,
  };
}

/** Live updates ended because the token's life did, or the server turned the connection away. */
export function liveStoppedProblem(reason: 'expired' | 'refused' | 'lost', context: ProblemContext): Problem {
  switch (reason) {
    case 'expired':
      return {
        code: 'LIVE_STOPPED',
        title: 'Live updates stopped: your token has expired.',
        action: `The numbers shown stay as they were. ${newTokenAdvice(context)}`,
      };
    case 'refused':
      return {
        code: 'LIVE_STOPPED',
        title: 'The server refused the live connection for this token.',
        action: newTokenAdvice(context),
      };
    case 'lost':
      return {
        code: 'LIVE_STOPPED',
        title: 'Lost the live connection to the server, and could not reconnect.',
        action: 'The numbers shown may be out of date: check the server, then reload the page.',
      };
  }
}
