/**
 * The FX vendor client (Frankfurter format): `GET {base}/latest?from=USD` answers
 * `{"amount":1.0,"base":"USD","date":"2026-11-25","rates":{"EUR":0.92,…}}`. A slow,
 * failing or malformed answer is a vendor failure, never a value.
 */

/** A validated answer with its metadata. */
export interface VendorRates {
  base: string;
  /** The vendor's own date of the rates. */
  date: string;
  /** Units of each currency per one unit of `base`; all finite and positive. */
  rates: Record<string, number>;
  /** The vendor's host, e.g. `api.frankfurter.app`. */
  source: string;
  fetchedAt: number;
  latencyMs: number;
  httpStatus: number;
  /** The latest attempt, when it failed after these rates were fetched. */
  lastAttempt?: { at: number; outcome: VendorFailure; httpStatus?: number | undefined; latencyMs: number } | undefined;
}

/**
 * Why a vendor call gave no rates: `timeout` (no full answer within the timeout), `error`
 * (unreachable or HTTP error), `invalid` (an answer that is not valid rates).
 */
export type VendorFailure = 'timeout' | 'error' | 'invalid';

/** Why the vendor gave no usable rates. */
export class VendorError extends Error {
  override name = 'VendorError';
  constructor(
    readonly outcome: VendorFailure,
    message: string,
    readonly httpStatus?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Calls the vendor once. @throws VendorError */
export async function fetchVendorRates(
  baseUrl: string,
  base: string,
  timeoutMs: number,
  clock: () => number = Date.now,
): Promise<VendorRates> {
  const url = `${baseUrl}/latest?from=${encodeURIComponent(base)}`;
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (cause) {
    const timedOut = (cause as Error)?.name === 'TimeoutError' || (cause as Error)?.name === 'AbortError';
    throw new VendorError(
      timedOut ? 'timeout' : 'error',
      timedOut ? `FX vendor did not answer within ${timeoutMs} ms` : `FX vendor unreachable: ${(cause as Error)?.message}`,
      undefined,
      { cause },
    );
  }
  let text: string;
  try {
    // The timeout covers the body too: a vendor that sends headers and then stalls is slow.
    text = await response.text();
  } catch (cause) {
    throw new VendorError('timeout', `FX vendor body did not arrive within ${timeoutMs} ms`, response.status, { cause });
  }
  const latencyMs = performance.now() - started;
  if (!response.ok) throw new VendorError('error', `FX vendor answered HTTP ${response.status}`, response.status);
  let body: { amount?: unknown; base?: unknown; date?: unknown; rates?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch (cause) {
    throw new VendorError('invalid', 'FX vendor answered with a body that is not JSON', response.status, { cause });
  }
  if (typeof body !== 'object' || body === null) throw new VendorError('invalid', 'FX vendor answer is not an object', response.status);
  if (body.base !== base)
    throw new VendorError('invalid', `FX vendor answered for base "${String(body.base)}", not ${base}`, response.status);
  if (body.amount !== undefined && body.amount !== 1)
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the vendor's value as String() renders it, like base's above
    throw new VendorError('invalid', `FX vendor answered for amount ${String(body.amount)}, not 1`, response.status);
  if (typeof body.date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(body.date))
    throw new VendorError('invalid', 'FX vendor answer has no date (YYYY-MM-DD)', response.status);
  if (typeof body.rates !== 'object' || body.rates === null || Array.isArray(body.rates))
    throw new VendorError('invalid', 'FX vendor answer has no rates object', response.status);
  const rates: Record<string, number> = {};
  for (const [code, rate] of Object.entries(body.rates as Record<string, unknown>)) {
    if (!/^[A-Z]{3}$/.test(code))
      throw new VendorError('invalid', `FX vendor answer has a malformed currency code "${code.slice(0, 10)}"`, response.status);
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
      throw new VendorError('invalid', `FX vendor rate for ${code} is ${String(rate)}; rates must be finite and positive`, response.status);
    }
    rates[code] = rate;
  }
  rates[base] = 1;
  if (Object.keys(rates).length < 2) throw new VendorError('invalid', 'FX vendor answer has no rates', response.status);
  return { base, date: body.date, rates, source: new URL(baseUrl).host, fetchedAt: clock(), latencyMs, httpStatus: response.status };
}
