/**
 * Bench server: the physical limit for a cache hit. Plain node:http that verifies
 * the token as the app does (verifyAuthorization: jose, HS256) and writes back a
 * stored, already serialised answer: the very bytes the app answers for that
 * request. No GraphQL, no parsing on the way.
 *
 * Answers are keyed by the verified tenant and region plus the exact request body.
 * A body not stored (a sliding range's variables change on every request) gets the
 * stored answer of the same query document, which has the same size.
 *
 *   PUT /bench/answers   [{ tenant, region?, body, answer }], from the driver only
 *                        (it listens on loopback, and the bench is the only client)
 */
import { createServer, type IncomingMessage } from 'node:http';
import { verifyAuthorization } from '../../src/auth/identity.js';
import { loadConfig } from '../../src/config/index.js';
import { serve, serverArgs } from './child.js';

/** One stored answer, as the driver sends it. */
export interface StoredAnswer {
  tenant: string;
  region?: string | undefined;
  /** The exact request body. */
  body: string;
  /** The exact response body. */
  answer: string;
}

const json = { 'content-type': 'application/json; charset=utf-8' };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const scopeKey = (tenant: string, region: string | undefined) => `${tenant}|${region ?? '*'}`;
const documentOf = (body: string): string | undefined => {
  try {
    const query = (JSON.parse(body) as { query?: unknown }).query;
    return typeof query === 'string' ? query : undefined;
  } catch {
    return undefined;
  }
};

serverArgs({});

await serve('stored', async () => {
  const config = loadConfig(process.env);
  const byBody = new Map<string, Buffer>();
  const byDocument = new Map<string, Buffer>();

  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- node:http ignores the promise; the handler answers its own errors
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'PUT' && path === '/bench/answers') {
        for (const a of JSON.parse(body) as StoredAnswer[]) {
          const answer = Buffer.from(a.answer, 'utf8');
          byBody.set(`${scopeKey(a.tenant, a.region)}|${a.body}`, answer);
          const document = documentOf(a.body);
          if (document !== undefined && !byDocument.has(`${scopeKey(a.tenant, a.region)}|${document}`)) {
            byDocument.set(`${scopeKey(a.tenant, a.region)}|${document}`, answer);
          }
        }
        res.writeHead(204).end();
        return;
      }
      if (path === '/healthz') return void res.writeHead(200, json).end('{"status":"ok"}');
      if (path !== '/graphql' || req.method !== 'POST') return void res.writeHead(404, json).end('{"error":"POST /graphql only"}');
      let scope: string;
      try {
        const identity = await verifyAuthorization(req.headers.authorization, config.auth.jwtSecret);
        scope = scopeKey(identity.tenant, identity.region);
      } catch {
        res.writeHead(401, json).end('{"errors":[{"message":"Could not verify the token.","extensions":{"code":"UNAUTHENTICATED"}}]}');
        return;
      }
      const answer = byBody.get(`${scope}|${body}`) ?? byDocument.get(`${scope}|${documentOf(body) ?? ''}`);
      if (!answer) return void res.writeHead(404, json).end('{"errors":[{"message":"no stored answer for this request"}]}');
      res.writeHead(200, { ...json, 'content-length': answer.length }).end(answer);
    } catch (error) {
      res.writeHead(500, json).end(JSON.stringify({ errors: [{ message: String(error) }] }));
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, config.host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
});
