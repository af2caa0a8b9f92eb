/**
 * `npm run seed -- [--days 90] [--scale 1]` rewrites the demo data of the database
 * named by DATABASE_URL (all rows are replaced).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { openDatabase } from '../source/database.js';
import { migrate } from '../source/migrations.js';
import { seed } from '../source/seed.js';

async function run(): Promise<void> {
  const { values } = parseArgs({ options: { days: { type: 'string', default: '90' }, scale: { type: 'string', default: '1' } } });
  const days = Number(values.days);
  const scale = Number(values.scale);
  if (!Number.isInteger(days) || days < 1 || days > 800)
    throw new Error(`--days must be a whole number from 1 to 800, got "${values.days}"`);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 100)
    throw new Error(`--scale must be a number above 0 and at most 100, got "${values.scale}"`);
  const config = loadConfig();
  const database = openDatabase(config.database);
  try {
    await migrate(database.db);
    const started = Date.now();
    let last = -1;
    const result = await seed(database, {
      days,
      scale,
      onProgress(written, expected) {
        const percent = Math.min(100, Math.floor((written / Math.max(1, expected)) * 100));
        if (percent >= last + 5) {
          last = percent;
          process.stdout.write(`\rseeding: ${String(percent).padStart(3)}%`);
        }
      },
    });
    process.stdout.write(
      `\nseeded ${result.orders} orders and ${result.sessions} sessions in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  } finally {
    await database.close();
  }
}

run().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
