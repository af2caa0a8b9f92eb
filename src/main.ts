/**
 * Start-up: config → database (migrate, seed on first start) → app → listen.
 * Prints the live page's and GraphiQL's URLs and, outside production, a ready-to-paste token.
 */
import { signToken } from './auth/identity.js';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { createApp } from './app.js';
import { createLogger } from './observability/logger.js';
import { startTracing } from './observability/tracing.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Cannot start: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const tracing = startTracing(config.tracing);
  if (config.tracing.enabled) logger.info({ exporter: config.tracing.exporter, endpoint: config.tracing.endpoint }, 'tracing on');
  if (config.auth.usingDevSecret) {
    logger.warn('JWT_SECRET is not set: using the fixed development secret. Never do this in production.');
  }

  let lastPercent = -1;
  const app = await createApp(config, {
    logger,
    seed: {
      onProgress(written, expected) {
        const percent = Math.min(100, Math.floor((written / Math.max(1, expected)) * 100));
        if (percent >= lastPercent + 10 || (percent === 100 && lastPercent !== 100)) {
          lastPercent = percent;
          process.stdout.write(`seeding demo data: ${percent}% (${written.toLocaleString('en')} rows)\n`);
        }
      },
    },
  });
  const port = await app.listen();
  const base = `http://localhost:${port}`;
  logger.info({ port, database: config.database.kind, store: config.store.kind }, 'listening');
  process.stdout.write(`\nDashboard API ready.\n  Live page: ${base}/\n  GraphiQL: ${base}/graphql\n  Metrics:  ${base}/metrics\n`);
  if (config.env !== 'production') {
    const token = await signToken({ tenant: 'acme', role: 'ADMIN' }, config.auth.jwtSecret);
    process.stdout.write(
      `  Token (acme, ADMIN, 12 h):\n    ${token}\n\n  curl ${base}/graphql -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\\n    -d '{"query":"{ dashboard(range:{from:\\"2026-11-01\\",to:\\"2026-11-08\\"},granularity:DAY){ orders { total } } }"}'\n\n`,
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: finishing in-flight requests');
    // The bound of the whole stop: whatever still hangs then (a query the database never
    // answers) is cut by the exit. Locks it held expire by their TTL, entries it held stay pending.
    setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out: exiting with work unfinished');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    try {
      await app.close();
      await tracing.shutdown();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error) => {
  process.stderr.write(`Cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
