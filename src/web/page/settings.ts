/**
 * What the server tells the page when it serves it: a JSON block in the HTML
 * (src/web/routes.ts writes it, main.ts reads it). Types only, shared by both sides.
 */

/** The page's settings, fixed for the life of the page. */
export interface PageSettings {
  /** True when the server runs with NODE_ENV=production: no development tokens, a field to paste one. */
  production: boolean;
  /** True when `POST /dev/token` signs development tokens (outside production). */
  devTokens: boolean;
  /** The demo tenants a development token may name. */
  tenants: ReadonlyArray<{ id: string; name: string }>;
  roles: readonly string[];
  regions: readonly string[];
  /** Currencies offered for `revenueIn`. */
  currencies: readonly string[];
  /** What the page opens on with no click. */
  defaults: { tenant: string; role: string; preset: RangePreset; currency: string };
}

/** The ranges the page offers, ending now. */
export type RangePreset = '24h' | '7d' | '30d' | '90d';

/** The id of the `<script type="application/json">` element that holds the settings. */
export const SETTINGS_ELEMENT_ID = 'page-settings';
