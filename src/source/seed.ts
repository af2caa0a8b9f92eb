/**
 * Deterministic demo data (CONTRACT.md, "Demo data"): three tenants, a product
 * catalogue each, and orders and sessions per hour with a daily and weekly rhythm,
 * drawn from a PRNG with a fixed seed so that every machine gets the same rows for
 * the same end hour.
 */
import { sql } from 'kysely';
import { BUCKET_MS, bucketStart } from '../cache/buckets.js';
import type { Database } from './database.js';
import { createRandom, cumulate, type Random } from './prng.js';
import type { Region } from './types.js';

/** The demo tenants and their daily volumes at scale 1. */
export const DEMO_TENANTS = [
  {
    id: 'acme',
    name: 'Acme Corp',
    homeRegion: 'NA',
    ordersPerDay: 2_000,
    sessionsPerDay: 10_000,
    customers: 25_000,
    products: 24,
    regions: { NA: 5, EU: 3, APAC: 2 },
  },
  {
    id: 'globex',
    name: 'Globex',
    homeRegion: 'EU',
    ordersPerDay: 600,
    sessionsPerDay: 3_000,
    customers: 8_000,
    products: 16,
    regions: { EU: 6, NA: 3, APAC: 1 },
  },
  {
    id: 'initech',
    name: 'Initech',
    homeRegion: 'APAC',
    ordersPerDay: 250,
    sessionsPerDay: 1_500,
    customers: 3_000,
    products: 12,
    regions: { APAC: 5, NA: 3, EU: 2 },
  },
] as const;

/** @default seed 20261125, days 90, scale 1, ending at the current hour */
export interface SeedOptions {
  /** Days of history before `endHour`. @default 90 */
  days?: number;
  /** Multiplies every volume. @default 1 */
  scale?: number;
  /** Exclusive end, epoch ms; floored to the hour. @default the current hour */
  endMs?: number;
  /** PRNG seed. @default 20261125 */
  seed?: number;
  /** Called now and then with rows written so far and the expected total. */
  onProgress?: (written: number, expected: number) => void;
}

const ADJECTIVES = ['Aero', 'Brisk', 'Cobalt', 'Delta', 'Ember', 'Fjord', 'Granite', 'Harbor', 'Iris', 'Juniper', 'Kestrel', 'Lumen'];
const NOUNS = ['Kettle', 'Backpack', 'Lamp', 'Notebook', 'Headphones', 'Mug', 'Chair', 'Bottle', 'Jacket', 'Speaker', 'Watch', 'Umbrella'];

// Relative activity by UTC hour of day: quiet nights, a midday and an evening peak.
const HOURLY = [3, 2, 2, 2, 2, 3, 5, 7, 9, 10, 11, 12, 12, 11, 10, 10, 11, 12, 13, 12, 10, 8, 6, 4];
const HOURLY_SUM = HOURLY.reduce((a, b) => a + b, 0);
// Sunday..Saturday.
const WEEKDAY = [0.8, 1.05, 1.05, 1.05, 1.05, 1.1, 0.9];

const CHUNK = 500;

/** True when the database already holds demo data. */
export async function isSeeded(database: Database): Promise<boolean> {
  const row = await database.db.selectFrom('tenants').select('id').limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Deletes all rows and writes the demo data in one transaction.
 * @returns how many orders and sessions were written.
 */
export async function seed(database: Database, options: SeedOptions = {}): Promise<{ orders: number; sessions: number }> {
  const days = options.days ?? 90;
  const scale = options.scale ?? 1;
  const endMs = bucketStart(options.endMs ?? Date.now(), 'HOUR');
  const startMs = endMs - days * BUCKET_MS.DAY;
  const random = createRandom(options.seed ?? 20261125);
  const expected = Math.round(DEMO_TENANTS.reduce((n, t) => n + (t.ordersPerDay + t.sessionsPerDay) * days * scale, 0));
  let written = 0;
  let orders = 0;
  let sessions = 0;

  await database.db.transaction().execute(async (trx) => {
    for (const table of ['orders', 'sessions', 'products', 'tenants', 'meta'] as const) {
      await trx.deleteFrom(table).execute();
    }
    for (const tenant of DEMO_TENANTS) {
      await trx
        .insertInto('tenants')
        .values({ id: tenant.id, name: tenant.name, currency: 'USD', home_region: tenant.homeRegion })
        .execute();
      const products = catalogue(tenant.id, tenant.products, random);
      await trx
        .insertInto('products')
        .values(products.map((p) => ({ tenant_id: tenant.id, ...p })))
        .execute();
      // Zipf-like popularity: the first products sell far more than the last.
      const popularity = cumulate(products.map((_, i) => 1 / (i + 1)));
      const regionNames = Object.keys(tenant.regions) as Region[];
      const regionWeights = cumulate(Object.values(tenant.regions));

      let orderBatch: Array<Record<string, unknown>> = [];
      let sessionBatch: Array<Record<string, unknown>> = [];
      const flush = async (force: boolean) => {
        if (orderBatch.length >= CHUNK || (force && orderBatch.length)) {
          await trx
            .insertInto('orders')
            .values(orderBatch as never)
            .execute();
          written += orderBatch.length;
          orderBatch = [];
        }
        if (sessionBatch.length >= CHUNK || (force && sessionBatch.length)) {
          await trx
            .insertInto('sessions')
            .values(sessionBatch as never)
            .execute();
          written += sessionBatch.length;
          sessionBatch = [];
        }
      };

      for (let hour = startMs; hour < endMs; hour += BUCKET_MS.HOUR) {
        const date = new Date(hour);
        const weight = (HOURLY[date.getUTCHours()]! / HOURLY_SUM) * WEEKDAY[date.getUTCDay()]! * scale;
        const orderCount = jitter(tenant.ordersPerDay * weight, random);
        const sessionCount = jitter(tenant.sessionsPerDay * weight, random);
        for (let i = 0; i < orderCount; i++) {
          const product = products[random.weighted(popularity)]!;
          const quantity = 1 + (random.next() < 0.2 ? random.int(3) : 0);
          orderBatch.push({
            tenant_id: tenant.id,
            id: `${tenant.id}-o${++orders}`,
            product_id: product.id,
            // Squaring skews toward the first customers: some buy often, most rarely.
            customer_id: `c${Math.floor(random.next() ** 2 * tenant.customers * scale) + 1}`,
            amount_cents: product.price_cents * quantity,
            region: regionNames[random.weighted(regionWeights)]!,
            occurred_at: hour + random.int(BUCKET_MS.HOUR),
          });
        }
        for (let i = 0; i < sessionCount; i++) {
          sessionBatch.push({
            tenant_id: tenant.id,
            id: `${tenant.id}-s${++sessions}`,
            visitor_id: `v${random.int(tenant.customers * 4 * scale) + 1}`,
            region: regionNames[random.weighted(regionWeights)]!,
            occurred_at: hour + random.int(BUCKET_MS.HOUR),
          });
        }
        await flush(false);
        options.onProgress?.(written, expected);
      }
      await flush(true);
    }
    await trx
      .insertInto('meta')
      .values([
        { key: 'seed.days', value: String(days) },
        { key: 'seed.scale', value: String(scale) },
        { key: 'seed.endMs', value: String(endMs) },
      ])
      .execute();
  });
  if (database.kind === 'postgres') await sql`ANALYZE`.execute(database.db);
  options.onProgress?.(written, expected);
  return { orders, sessions };
}

function catalogue(tenant: string, count: number, random: Random) {
  return Array.from({ length: count }, (_, i) => ({
    id: `${tenant}-p${String(i + 1).padStart(2, '0')}`,
    name: `${ADJECTIVES[i % ADJECTIVES.length]} ${NOUNS[(i * 5 + 3) % NOUNS.length]}`,
    // Prices from $5 to $250 in whole cents.
    price_cents: 500 + random.int(24_500),
  }));
}

/** A count near `mean`: ±25%, rounded, never negative. */
function jitter(mean: number, random: Random): number {
  return Math.max(0, Math.round(mean * (0.75 + random.next() * 0.5)));
}
