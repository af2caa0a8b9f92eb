import { SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { scopeOf, signToken, verifyAuthorization, type Identity, type Role } from '../../src/auth/identity.js';
import { assertCanRead, assertCanWrite, canRead } from '../../src/auth/policy.js';
import { DomainError, ErrorCodes } from '../../src/errors.js';

const SECRET = new TextEncoder().encode('unit-test-secret-of-at-least-32-characters!');
const OTHER_SECRET = new TextEncoder().encode('another-secret-of-at-least-32-characters!!');
const HOUR_MS = 3_600_000;

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

async function unauthenticated(header: string | null | undefined, message: RegExp, secret = SECRET): Promise<DomainError> {
  const error = await rejection(verifyAuthorization(header, secret));
  expect(error.code).toBe(ErrorCodes.E_UNAUTHENTICATED);
  expect(error.message).toMatch(message);
  return error;
}

/** How `rawToken` signs: `exp: false` leaves the expiry out, `sub: null` the subject; `alg: 'HS512'` signs with another key. */
interface RawTokenOptions {
  exp?: boolean;
  sub?: string | null;
  alg?: string;
}

/** A raw HS256 token with exactly these claims, for claims signToken would refuse. */
async function rawToken(claims: Record<string, unknown>, { exp = true, sub = 'someone', alg = 'HS256' }: RawTokenOptions = {}) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt();
  if (sub !== null) jwt = jwt.setSubject(sub);
  if (exp) jwt = jwt.setExpirationTime('1h');
  return jwt.sign(alg === 'HS512' ? new Uint8Array(64).fill(7) : SECRET);
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('signToken and verifyAuthorization', () => {
  it('round-trips tenant, role, subject and expiry', async () => {
    const now = Date.now();
    const token = await signToken({ tenant: 'acme', role: 'ANALYST', subject: 'ana@acme', ttlMs: 2 * HOUR_MS }, SECRET, now);
    const identity = await verifyAuthorization(`Bearer ${token}`, SECRET);
    expect(identity).toEqual({
      subject: 'ana@acme',
      tenant: 'acme',
      role: 'ANALYST',
      region: undefined,
      expiresAt: Math.floor((now + 2 * HOUR_MS) / 1000) * 1000,
    });
  });

  it('round-trips a region and gives a default subject', async () => {
    const token = await signToken({ tenant: 'globex', role: 'VIEWER', region: 'APAC' }, SECRET);
    const identity = await verifyAuthorization(`Bearer ${token}`, SECRET);
    expect(identity.region).toBe('APAC');
    expect(identity.subject).toBe('dev-viewer@globex');
    expect(scopeOf(identity)).toEqual({ tenant: 'globex', region: 'APAC' });
  });

  it('defaults the lifetime to 12 hours', async () => {
    const now = Date.now();
    const identity = await verifyAuthorization(`Bearer ${await signToken({ tenant: 'acme', role: 'ADMIN' }, SECRET, now)}`, SECRET);
    expect(identity.expiresAt).toBe(Math.floor((now + 12 * HOUR_MS) / 1000) * 1000);
    expect(scopeOf(identity)).toEqual({ tenant: 'acme' });
    expect('region' in scopeOf(identity)).toBe(false);
  });

  it('accepts any case of "bearer" and trailing spaces', async () => {
    const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, SECRET);
    expect((await verifyAuthorization(`bearer   ${token}  `, SECRET)).tenant).toBe('acme');
  });

  it('refuses bad claims when signing, naming the claim', async () => {
    const cases: Array<[Parameters<typeof signToken>[0], string]> = [
      [{ tenant: '', role: 'ADMIN' }, 'tenant'],
      [{ tenant: 't'.repeat(129), role: 'ADMIN' }, 'tenant'],
      [{ tenant: 'acme', role: 'OWNER' }, 'role'],
      [{ tenant: 'acme', role: 'admin' }, 'role'],
      [{ tenant: 'acme', role: 'ADMIN', region: 'MARS' }, 'region'],
      // A tenant is printable, well-formed text (see "tenantProblem"): no NUL or other control character...
      [{ tenant: 'ac\0me', role: 'ADMIN' }, 'tenant'],
      [{ tenant: 'acme\n', role: 'ADMIN' }, 'tenant'],
      [{ tenant: '\u0085', role: 'ADMIN' }, 'tenant'],
      // ...and no lone surrogate, which the token's UTF-8 would turn into U+FFFD: another tenant.
      [{ tenant: 'acme\uD800', role: 'ADMIN' }, 'tenant'],
      [{ tenant: '\uDC00acme', role: 'ADMIN' }, 'tenant'],
    ];
    for (const [claims, field] of cases) {
      const error = await rejection(signToken(claims, SECRET));
      expect(error.code).toBe(ErrorCodes.E_INVALID_INPUT);
      expect(error.details.field).toBe(field);
    }
  });
});

describe('verifyAuthorization refuses', () => {
  it('a missing header', async () => {
    await unauthenticated(undefined, /Missing token/);
    await unauthenticated(null, /Missing token/);
    await unauthenticated('', /Missing token/);
  });

  it('a header that is not "Bearer <JWT>"', async () => {
    const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, SECRET);
    await unauthenticated(`Basic ${token}`, /Malformed Authorization header/);
    await unauthenticated(token, /Malformed Authorization header/);
    await unauthenticated('Bearer', /Malformed Authorization header/);
    await unauthenticated(`Bearer ${token} extra`, /Malformed Authorization header/);
  });

  it('garbage where the JWT should be', async () => {
    await unauthenticated('Bearer not.a.jwt', /Invalid token/);
    await unauthenticated('Bearer abc', /Invalid token/);
  });

  it('an expired token, saying so', async () => {
    const token = await signToken({ tenant: 'acme', role: 'ADMIN', ttlMs: 60_000 }, SECRET, Date.now() - HOUR_MS);
    const error = await unauthenticated(`Bearer ${token}`, /expired/);
    expect(error.cause).toBeDefined();
  });

  it('a token signed with another secret', async () => {
    const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, OTHER_SECRET);
    const error = await unauthenticated(`Bearer ${token}`, /Invalid token: its signature/);
    expect(error.message).not.toMatch(/expired/);
  });

  it('an unsigned token (alg none)', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'x', tenant: 'acme', role: 'ADMIN', exp })}.`;
    await unauthenticated(`Bearer ${token}`, /Invalid token/);
  });

  it('a token signed with an algorithm other than HS256', async () => {
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: 'ADMIN' }, { alg: 'HS512' })}`, /Invalid token/);
  });

  it('a token with a tampered payload', async () => {
    const token = await signToken({ tenant: 'acme', role: 'VIEWER' }, SECRET);
    const [header, , signature] = token.split('.');
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const forged = `${header}.${b64url({ sub: 'x', tenant: 'acme', role: 'ADMIN', exp })}.${signature}`;
    await unauthenticated(`Bearer ${forged}`, /Invalid token/);
  });

  it('a token without exp or sub', async () => {
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: 'ADMIN' }, { exp: false })}`, /Invalid token/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: 'ADMIN' }, { sub: null })}`, /Invalid token/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: 'ADMIN' }, { sub: '' })}`, /claim "sub"/);
  });

  it('a token without a valid tenant claim', async () => {
    await unauthenticated(`Bearer ${await rawToken({ role: 'ADMIN' })}`, /claim "tenant"/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: '', role: 'ADMIN' })}`, /claim "tenant"/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: 42, role: 'ADMIN' })}`, /claim "tenant"/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: 't'.repeat(129), role: 'ADMIN' })}`, /claim "tenant"/);
    // From another issuer: a tenant with control characters is refused; separators, braces, `%` and lookalikes are not.
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'ac\0me', role: 'ADMIN' })}`, /claim "tenant"/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: '\u001b[31m', role: 'ADMIN' })}`, /claim "tenant"/);
    const odd = 'a:{b}|c/%25\uFF1A\u0430😀';
    expect((await verifyAuthorization(`Bearer ${await signToken({ tenant: odd, role: 'ADMIN' }, SECRET)}`, SECRET)).tenant).toBe(odd);
  });

  it('a token without a valid role claim', async () => {
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme' })}`, /claim "role" must be one of ADMIN, ANALYST, VIEWER/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: 'SUPERUSER' })}`, /claim "role"/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: ['ADMIN'] })}`, /claim "role"/);
  });

  it('a token with an unknown or non-string region claim', async () => {
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: 'ADMIN', region: 'MARS' })}`, /claim "region"/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: 'ADMIN', region: 1 })}`, /claim "region"/);
    await unauthenticated(`Bearer ${await rawToken({ tenant: 'acme', role: 'ADMIN', region: null })}`, /claim "region"/);
  });

  it('but accepts a raw token with a valid region', async () => {
    const identity = await verifyAuthorization(`Bearer ${await rawToken({ tenant: 'acme', role: 'VIEWER', region: 'NA' })}`, SECRET);
    expect(identity).toMatchObject({ tenant: 'acme', role: 'VIEWER', region: 'NA', subject: 'someone' });
  });
});

describe('policy', () => {
  const as = (role: Role): Identity => ({ subject: 's', tenant: 'acme', role, expiresAt: 0 });
  const money = ['Dashboard.revenue', 'Dashboard.averageOrderValue', 'Dashboard.revenueIn', 'ProductSales.revenue'];
  const open = ['Dashboard.orders', 'Dashboard.sessions', 'Dashboard.customers', 'Dashboard.conversionRate', 'ProductSales.orders'];

  it('VIEWER cannot read money fields', () => {
    for (const coordinate of money) {
      expect(canRead(as('VIEWER'), coordinate)).toBe(false);
      let caught: unknown;
      try {
        assertCanRead(as('VIEWER'), coordinate);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(DomainError);
      expect((caught as DomainError).code).toBe(ErrorCodes.E_FORBIDDEN);
      expect((caught as DomainError).details).toEqual({ coordinate, role: 'VIEWER' });
      expect((caught as DomainError).message).toContain(`Role VIEWER may not read ${coordinate}`);
    }
  });

  it('ADMIN and ANALYST can read money fields', () => {
    for (const role of ['ADMIN', 'ANALYST'] as const) {
      for (const coordinate of money) {
        expect(canRead(as(role), coordinate)).toBe(true);
        expect(() => assertCanRead(as(role), coordinate)).not.toThrow();
      }
    }
  });

  it('every role can read the other fields', () => {
    for (const role of ['ADMIN', 'ANALYST', 'VIEWER'] as const) {
      for (const coordinate of open) {
        expect(canRead(as(role), coordinate)).toBe(true);
        expect(() => assertCanRead(as(role), coordinate)).not.toThrow();
      }
    }
  });

  it('VIEWER cannot write anything', () => {
    for (const coordinate of ['Mutation.recordOrder', 'Mutation.recordSession', 'Mutation.invalidateMetrics']) {
      expect(() => assertCanWrite(as('VIEWER'), coordinate)).toThrow(DomainError);
      expect(() => assertCanWrite(as('VIEWER'), coordinate)).toThrow(`Role VIEWER may not call ${coordinate}`);
    }
  });

  it('ANALYST can record but cannot invalidateMetrics', () => {
    expect(() => assertCanWrite(as('ANALYST'), 'Mutation.recordOrder')).not.toThrow();
    expect(() => assertCanWrite(as('ANALYST'), 'Mutation.recordSession')).not.toThrow();
    let caught: unknown;
    try {
      assertCanWrite(as('ANALYST'), 'Mutation.invalidateMetrics');
    } catch (error) {
      caught = error;
    }
    expect((caught as DomainError).code).toBe(ErrorCodes.E_FORBIDDEN);
    expect((caught as DomainError).message).toContain('it needs ADMIN');
  });

  it('ADMIN can call every mutation', () => {
    for (const coordinate of ['Mutation.recordOrder', 'Mutation.recordSession', 'Mutation.invalidateMetrics']) {
      expect(() => assertCanWrite(as('ADMIN'), coordinate)).not.toThrow();
    }
  });

  it('nobody can call an unknown mutation', () => {
    expect(() => assertCanWrite(as('ADMIN'), 'Mutation.dropEverything')).toThrow(/a role that does not exist/);
  });
});

describe('verifyAuthorization remembers verified tokens', () => {
  it('only per secret: a token verified under one secret is refused under another', async () => {
    const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, SECRET);
    expect((await verifyAuthorization(`Bearer ${token}`, SECRET)).tenant).toBe('acme');
    await unauthenticated(`Bearer ${token}`, /Invalid token: its signature/, OTHER_SECRET);
    // And again under its own: still the same identity.
    expect(await verifyAuthorization(`Bearer ${token}`, SECRET)).toEqual(await verifyAuthorization(`Bearer ${token}`, SECRET));
  });

  it('never past its expiry: a remembered token that expires is refused as expired', async () => {
    const token = await signToken({ tenant: 'acme', role: 'ADMIN', ttlMs: 60_000 }, SECRET);
    expect((await verifyAuthorization(`Bearer ${token}`, SECRET)).tenant).toBe('acme');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 70_000 });
    try {
      await unauthenticated(`Bearer ${token}`, /expired/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('never a failure: a refused token is checked again every time', async () => {
    const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, OTHER_SECRET);
    await unauthenticated(`Bearer ${token}`, /Invalid token/);
    await unauthenticated(`Bearer ${token}`, /Invalid token/);
  });
});
