/**
 * The live page's HTTP routes, beside the API on the same server:
 *
 * | route                  | answers                                                        |
 * | ---------------------- | -------------------------------------------------------------- |
 * | `GET /`                | the page: HTML with its settings, then the script and styles    |
 * | `GET /page/app.js`     | the script; kept for good by browsers when `?v=` is its hash    |
 * | `GET /page/styles.css` | the stylesheet; likewise                                        |
 * | `POST /dev/token`      | outside production only: a development token for a demo tenant |
 *
 * A development token is what GraphiQL already hands every visitor outside
 * production; it names one of the demo tenants only, and is refused in production
 * (404) where tokens come from an operator.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROLES, signToken } from '../auth/identity.js';
import type { Config } from '../config/index.js';
import { DomainError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { DEMO_TENANTS } from '../source/seed.js';
import { REGIONS } from '../source/types.js';
import { STATIC_USD_RATES } from '../vendors/fx.js';
import { createPageBundler, DEFAULT_BUNDLE_CACHE_DIR, type PageBundler } from './bundle.js';
import { SETTINGS_ELEMENT_ID, type PageSettings } from './page/settings.js';

/** Answers a request it knows and resolves true; resolves false for any other, untouched. */
export type Routes = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** What the page's routes need. */
export interface PageRoutesOptions {
  config: Config;
  logger: Logger;
  /** Epoch ms now, for token times. */
  clock: () => number;
  /** Builds the page. @default esbuild over src/web/page/, kept in node_modules/.cache/ */
  bundler?: PageBundler | undefined;
}

/** Lifetime of a development token: GraphiQL's. */
const DEV_TOKEN_TTL_MS = 12 * 3_600_000;
const MAX_TOKEN_REQUEST_BYTES = 2_048;

/**
 * What the page may load: its own script and styles, its own API over HTTP and
 * WebSocket (`'self'` covers ws: of the same host), no inline script, nothing from
 * elsewhere.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The page's settings as this server runs. */
export function pageSettings(config: Config): PageSettings {
  const production = config.env === 'production';
  return {
    production,
    devTokens: !production,
    tenants: DEMO_TENANTS.map((t) => ({ id: t.id, name: t.name })),
    roles: ROLES,
    regions: REGIONS,
    currencies: Object.keys(STATIC_USD_RATES).filter((c) => c !== 'USD'),
    defaults: { tenant: 'acme', role: 'ADMIN', preset: '7d', currency: 'EUR' },
  };
}

/** The HTML of the page: its settings in a JSON block (never run as script), then the bundle. */
function html(settings: PageSettings, hash: string): string {
  // `<` escaped, so that no value can close the script element.
  const json = JSON.stringify(settings).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dashboard · live</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/page/styles.css?v=${hash}">
</head>
<body>
<div id="app"><p>Loading the dashboard…</p><noscript>The live dashboard needs JavaScript; GraphiQL is at /graphql.</noscript></div>
<script id="${SETTINGS_ELEMENT_ID}" type="application/json">${json}</script>
<script type="module" src="/page/app.js?v=${hash}"></script>
</body>
</html>
`;
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, body: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), { 'cache-control': 'no-store' });

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_TOKEN_REQUEST_BYTES) throw new Error(`the request body is larger than ${MAX_TOKEN_REQUEST_BYTES} bytes`);
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

/** The page's routes (see the top of this file). */
export function createPageRoutes(options: PageRoutesOptions): Routes {
  const { config, logger, clock } = options;
  const production = config.env === 'production';
  const settings = pageSettings(config);
  const bundler = options.bundler ?? createPageBundler({ production, cacheDir: DEFAULT_BUNDLE_CACHE_DIR, logger });
  const tenants = new Set(settings.tenants.map((t) => t.id));

  async function asset(res: ServerResponse, url: URL, part: 'js' | 'css'): Promise<void> {
    const assets = await bundler.assets();
    // A URL naming the current hash may be kept for good; any other revalidates.
    const immutable = url.searchParams.get('v') === assets.hash;
    send(res, 200, part === 'js' ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8', assets[part], {
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    });
  }

  async function devToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      return sendJson(res, 415, { error: 'send a JSON body: {"tenant":"acme","role":"ADMIN","region":"EU"}' });
    }
    let body: { tenant?: unknown; role?: unknown; region?: unknown };
    try {
      body = (await readJson(req)) as typeof body;
    } catch (error) {
      return sendJson(res, 400, { error: `unreadable JSON body: ${error instanceof Error ? error.message : String(error)}` });
    }
    const tenant = typeof body?.tenant === 'string' ? body.tenant : '';
    if (!tenants.has(tenant)) return sendJson(res, 400, { error: `tenant must be one of the demo tenants ${[...tenants].join(', ')}` });
    const role = typeof body.role === 'string' ? body.role : '';
    const region = typeof body.region === 'string' && body.region !== '' ? body.region : undefined;
    try {
      const token = await signToken({ tenant, role, region, ttlMs: DEV_TOKEN_TTL_MS }, config.auth.jwtSecret, clock());
      return sendJson(res, 200, { token, expiresAt: new Date(clock() + DEV_TOKEN_TTL_MS).toISOString() });
    } catch (error) {
      if (error instanceof DomainError) return sendJson(res, 400, { error: error.message });
      throw error;
    }
  }

  return async (req, res, url) => {
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    switch (url.pathname) {
      case '/': {
        if (!read) return false;
        const { hash } = await bundler.assets();
        send(res, 200, 'text/html; charset=utf-8', html(settings, hash), {
          'cache-control': 'no-cache',
          'content-security-policy': CONTENT_SECURITY_POLICY,
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        });
        return true;
      }
      case '/page/app.js':
        if (!read) return false;
        await asset(res, url, 'js');
        return true;
      case '/page/styles.css':
        if (!read) return false;
        await asset(res, url, 'css');
        return true;
      case '/dev/token':
        if (production || method !== 'POST') return false;
        await devToken(req, res);
        return true;
      default:
        return false;
    }
  };
}
