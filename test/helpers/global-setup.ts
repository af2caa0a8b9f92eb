/** Starts (or finds) the shared services once per test run and hands their URLs to the tests. */
import type { TestProject } from 'vitest/node';
import { findOrStartPostgres } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const postgres = await findOrStartPostgres();
  if (postgres.origin === 'embedded') process.stdout.write(`tests use a private PostgreSQL at ${postgres.url}\n`);
  project.provide('postgresUrl', postgres.url);
  return async () => {
    await postgres.stop();
  };
}
