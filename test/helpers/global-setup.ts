/** Starts (or finds) the shared services once per test run and hands their URLs to the tests. */
import type { TestProject } from 'vitest/node';
import { findOrStartRedis } from './redis.js';
import { findOrStartPostgres } from './services.js';

declare module 'vitest' {
  /** What global-setup provides to every test file through vitest's `inject`. */
  export interface ProvidedContext {
    /** The run's PostgreSQL; tests keep to a schema of their own on it (see `createTestDatabase`). */
    postgresUrl: string;
    /** The shared Redis of the run; tests keep to their own key prefix on it (see `uniquePrefix`). */
    redisUrl: string;
  }
}

/**
 * vitest's global setup: finds or starts PostgreSQL and Redis once per run and provides
 * their URLs; the function it returns stops whichever it started. Fails the run when
 * either cannot be had, with the message that says what to install.
 */
export default async function setup(project: TestProject) {
  const [postgresResult, redisResult] = await Promise.allSettled([findOrStartPostgres(), findOrStartRedis()]);
  if (postgresResult.status === 'rejected' || redisResult.status === 'rejected') {
    // Stop whichever did start, so that a failed setup leaves no private server behind.
    await Promise.all([postgresResult, redisResult].flatMap((result) => (result.status === 'fulfilled' ? [result.value.stop()] : [])));
    throw postgresResult.status === 'rejected' ? postgresResult.reason : (redisResult as PromiseRejectedResult).reason;
  }
  const postgres = postgresResult.value;
  const redis = redisResult.value;
  if (postgres.origin === 'embedded') process.stdout.write(`tests use a private PostgreSQL at ${postgres.url}\n`);
  if (redis.origin === 'private') process.stdout.write(`tests use a private Redis at ${redis.url}\n`);
  project.provide('postgresUrl', postgres.url);
  project.provide('redisUrl', redis.url);
  return async () => {
    await Promise.all([postgres.stop(), redis.stop()]);
  };
}
