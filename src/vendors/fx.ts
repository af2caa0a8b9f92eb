/**
 * Exchange rates for `revenueIn`. Without FX_API_URL the built-in offline table
 * answers (`source: "static"`); the vendor client (Frankfurter format) plugs in
 * behind the same interface.
 */
import { invalidInput } from '../errors.js';

/** A rate with where and when it came from. */
export interface FxQuote {
  /** Units of `quote` per one unit of `base`. */
  rate: number;
  /** `static`, or the vendor's host. */
  source: string;
  /** When the rate was fetched, epoch ms. */
  fetchedAt: number;
  /** True when the vendor failed and the last good rate is served. */
  stale: boolean;
  /** The vendor's own date of the rate, when it gives one. */
  vendorDate?: string | undefined;
}

/** What `ConvertedAmount` resolves from. */
export interface ConvertedAmountModel extends FxQuote {
  /** The ISO 4217 code converted to. */
  currency: string;
  /** The revenue total in `currency`, major units, rounded to cents. */
  amount: number;
}

/** Where `revenueIn` gets exchange rates: the offline table or the vendor client. */
export interface FxRates {
  /**
   * The rate from `base` to `quote`.
   * @throws DomainError E_INVALID_INPUT for an unknown currency (nothing is sent anywhere).
   * @throws DomainError E_UNAVAILABLE when no rate was ever fetched.
   */
  quote(base: string, quote: string): Promise<FxQuote>;
}

/** Units per 1 USD; the offline table's as-of date is `STATIC_RATES_AS_OF`. */
export const STATIC_USD_RATES: Readonly<Record<string, number>> = Object.freeze({
  USD: 1,
  EUR: 0.92,
  GBP: 0.79,
  JPY: 151.2,
  CHF: 0.88,
  CAD: 1.39,
  AUD: 1.53,
  NZD: 1.7,
  SEK: 10.9,
  NOK: 11.0,
  DKK: 6.86,
  PLN: 4.05,
  CZK: 23.4,
  HUF: 372,
  CNY: 7.24,
  HKD: 7.78,
  SGD: 1.34,
  INR: 84.3,
  KRW: 1_395,
  BRL: 5.8,
  MXN: 20.3,
  ZAR: 18.1,
  TRY: 34.5,
  ILS: 3.72,
});

/** When the offline table was written. */
export const STATIC_RATES_AS_OF = Date.parse('2026-11-25T00:00:00Z');

/** Upper-cases and checks the shape of an ISO 4217 code. */
export function normaliseCurrency(raw: string, field = 'currency'): string {
  const code = raw.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) {
    throw invalidInput(field, `${field} must be a three-letter ISO 4217 code such as EUR, got "${raw.slice(0, 20)}"`);
  }
  return code;
}

/** The offline table: always available, never stale. */
export function createStaticRates(table: Readonly<Record<string, number>> = STATIC_USD_RATES): FxRates {
  return {
    async quote(base, quote) {
      const from = table[base];
      const to = table[quote];
      if (to === undefined) {
        throw invalidInput('currency', `Unknown currency "${quote}": supported are ${Object.keys(table).sort().join(', ')}.`);
      }
      if (from === undefined) {
        throw invalidInput('currency', `The tenant's currency "${base}" has no rate in the table.`);
      }
      return { rate: to / from, source: 'static', fetchedAt: STATIC_RATES_AS_OF, stale: false };
    },
  };
}
