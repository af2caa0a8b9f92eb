/**
 * What yoga is handed with every request: the server context as a plain object that
 * holds the Node request and response. Through `yoga.fetch`, whatwg-node made a single
 * context object the prototype of a new one, and V8 gives an object used as a prototype
 * a map of its own in the old generation, which kept each request's objects alive
 * through every scavenge (src/compose/server.ts). And work a plugin defers past the
 * response (`waitUntil`) that fails is caught, not an unhandled rejection.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';

const seen: Array<Record<string, unknown>> = [];
let deferred = 0;
const spy: Plugin = {
  onRequest({ serverContext }) {
    seen.push(serverContext);
  },
  onResponse({ serverContext }) {
    const waitUntil = (serverContext as { waitUntil?: (work: Promise<unknown>) => void }).waitUntil;
    waitUntil?.(new Promise((_, reject) => setTimeout(() => (deferred++, reject(new Error('deferred work failed'))), 5)));
  },
};

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ seed: false, plugins: [spy] });
});
afterAll(async () => {
  await t?.close();
});

it('yoga gets a plain object with the Node request and response, not an object derived from ours', async () => {
  const { body } = await t.gql('{ __typename }');
  expect(body.data).toEqual({ __typename: 'Query' });
  expect(seen).toHaveLength(1);
  const context = seen[0]!;
  expect(Object.getPrototypeOf(context)).toBe(Object.prototype);
  expect(context.req).toBeInstanceOf(IncomingMessage);
  expect(context.res).toBeInstanceOf(ServerResponse);
});

it('work deferred past the response that fails is caught (vitest fails a run on an unhandled rejection)', async () => {
  const before = deferred;
  await t.gql('{ __typename }');
  await expect.poll(() => deferred).toBeGreaterThan(before);
  // Its rejection has been handled by now, or vitest reports it.
  await new Promise((resolve) => setTimeout(resolve, 20));
});
