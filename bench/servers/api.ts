/**
 * Bench server: the app itself, exactly as `npm start` composes it (createApp),
 * configured from the environment the driver gives it (REDIS_URL,
 * REDIS_CLUSTER_NODES or neither; DATABASE_URL; JWT_SECRET; NODE_ENV=production).
 *
 *   --uncached   createApp(config, { cache: false }): every bucket from the source
 */
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { serve, serverArgs } from './child.js';

const args = serverArgs({ uncached: { type: 'boolean' } });

await serve(args.uncached ? 'uncached' : 'api', async () => {
  const config = loadConfig(process.env);
  const app = await createApp(config, { logger: createLogger(config.logLevel), seed: false, cache: !args.uncached });
  try {
    return { port: await app.listen(0), close: () => app.close() };
  } catch (error) {
    await app.close();
    throw error;
  }
});
