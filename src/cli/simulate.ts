/**
 * `npm run simulate -- --tenant acme --rate 5 [--via api|stream] [--url URL] [--count N]`
 * writes orders and sessions of a demo tenant, `--rate` a second (alternately an order
 * and a session), until stopped (Ctrl-C) or `--count` writes: through the API
 * (`recordOrder` / `recordSession`, with an ADMIN token signed with JWT_SECRET or the
 * development secret), or as another service would, on the Redis stream
 * `dashboard:events` (REDIS_URL or REDIS_CLUSTER_NODES). The live page at `/` moves
 * with every write.
 *
 * Exit codes: 0 stopped or done, 1 the API or Redis failed at the first write, 2 bad arguments.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { signToken } from '../auth/identity.js';
import { loadConfig, type Config } from '../config/index.js';
import { connectRedis } from '../events/redis-clients.js';
import { EVENT_STREAM } from '../events/stream.js';
import { DEMO_TENANTS } from '../source/seed.js';
import { REGIONS } from '../source/types.js';

const USAGE =
  'usage: npm run simulate -- --tenant acme|globex|initech [--rate 5] [--via api|stream] [--url http://localhost:4000] [--count N]';

/** Raised for arguments that cannot be used: printed with the usage, exit code 2. */
class UsageError extends Error {}

/** One write to make. */
type Write =
  | { type: 'order.recorded'; id: string; region: string; productId: string; customerId: string; amount: string }
  | { type: 'session.recorded'; id: string; region: string; visitorId: string };

/** Sends one write; resolves when it was accepted. */
type Writer = (write: Write) => Promise<void>;

function parse() {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      rate: { type: 'string', default: '5' },
      via: { type: 'string', default: 'api' },
      url: { type: 'string' },
      count: { type: 'string' },
    },
  });
  const tenant = DEMO_TENANTS.find((t) => t.id === values.tenant);
  if (!tenant) throw new UsageError(`--tenant must be one of the demo tenants ${DEMO_TENANTS.map((t) => t.id).join(', ')}`);
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1_000)
    throw new UsageError(`--rate must be a number of writes a second from 0 to 1000, got "${values.rate}"`);
  if (values.via !== 'api' && values.via !== 'stream') throw new UsageError(`--via must be api or stream, got "${values.via}"`);
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (!(count === Infinity || (Number.isInteger(count) && count > 0)))
    throw new UsageError(`--count must be a whole number above 0, got "${values.count}"`);
  return { tenant, rate, via: values.via, url: values.url, count };
}

type DemoTenant = (typeof DEMO_TENANTS)[number];

/** The `n`-th write: orders and sessions in turn, for products, customers and regions of the demo data. */
function nextWrite(tenant: DemoTenant, run: string, n: number): Write {
  const pick = (max: number) => 1 + Math.floor(Math.random() * max);
  const region = REGIONS[Math.floor(Math.random() * REGIONS.length)]!;
  const id = `sim-${run}-${n}`;
  if (n % 2 === 0) {
    const cents = 500 + Math.floor(Math.random() * 24_500);
    return {
      type: 'order.recorded',
      id,
      region,
      productId: `${tenant.id}-p${String(pick(tenant.products)).padStart(2, '0')}`,
      customerId: `c${pick(tenant.customers)}`,
      amount: (cents / 100).toFixed(2),
    };
  }
  return { type: 'session.recorded', id, region, visitorId: `v${pick(tenant.customers * 4)}` };
}

/** Writes through the API's mutations, with an ADMIN token of the tenant (renewed well before it expires). */
function apiWriter(config: Config, tenant: string, base: string): Writer {
  const endpoint = `${base.replace(/\/+$/, '')}/graphql`;
  let token: { value: string; until: number } | undefined;
  const bearer = async () => {
    if (!token || Date.now() > token.until) {
      token = {
        value: await signToken({ tenant, role: 'ADMIN', subject: 'simulate' }, config.auth.jwtSecret),
        until: Date.now() + 3_600_000,
      };
    }
    return token.value;
  };
  return async (write) => {
    const [query, input] =
      write.type === 'order.recorded'
        ? [
            'mutation($input: RecordOrderInput!) { recordOrder(input: $input) { id } }',
            { productId: write.productId, customerId: write.customerId, amount: Number(write.amount), region: write.region },
          ]
        : [
            'mutation($input: RecordSessionInput!) { recordSession(input: $input) { id } }',
            { visitorId: write.visitorId, region: write.region },
          ];
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await bearer()}` },
        body: JSON.stringify({ query, variables: { input } }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; errors?: Array<{ code?: string }> } }).cause;
      const reason = cause?.code ?? cause?.errors?.[0]?.code ?? (error as Error).message;
      throw new Error(`cannot reach ${endpoint} (${reason}): is the server running (npm start)? --url points elsewhere`);
    }
    const body = (await response.json().catch(() => ({}))) as { errors?: Array<{ message: string }> };
    if (body.errors?.length) throw new Error(`the API refused ${write.type}: ${body.errors[0]!.message}`);
    if (!response.ok) throw new Error(`the API answered HTTP ${response.status} to ${write.type}`);
  };
}

/** Writes on the `dashboard:events` stream, as another service would (CONTRACT.md, "Domain events"). */
function streamWriter(config: Config, tenant: string): { write: Writer; close(): Promise<void> } {
  const client = connectRedis(config.store, 'stream');
  if (!client)
    throw new UsageError('--via stream needs Redis: set REDIS_URL (or REDIS_CLUSTER_NODES) to the server the API reads the stream from');
  return {
    async write(write) {
      const common = ['type', write.type, 'id', write.id, 'tenant', tenant, 'region', write.region, 'occurredAt', new Date().toISOString()];
      const fields =
        write.type === 'order.recorded'
          ? [...common, 'productId', write.productId, 'customerId', write.customerId, 'amount', write.amount]
          : [...common, 'visitorId', write.visitorId];
      await client.xadd(EVENT_STREAM, '*', ...fields);
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

async function run(): Promise<number> {
  const args = parse();
  const config = loadConfig();
  const base = args.url ?? `http://localhost:${config.port}`;
  const stream = args.via === 'stream' ? streamWriter(config, args.tenant.id) : undefined;
  const write = stream?.write ?? apiWriter(config, args.tenant.id, base);
  const where = stream ? `the ${EVENT_STREAM} stream` : base;
  const runId = randomBytes(4).toString('hex');
  const periodMs = 1_000 / args.rate;
  const counts = { orders: 0, sessions: 0, failed: 0 };
  let stopping = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopping = true;
    wake?.();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  process.stdout.write(
    `simulate: ${args.tenant.id}, ${args.rate} writes a second (orders and sessions in turn) to ${where}; Ctrl-C stops\n`,
  );
  const started = Date.now();
  let lastReport = started;
  let lastError = 0;
  let code = 0;
  for (let n = 0; n < args.count && !stopping; n++) {
    // Each write at its own instant from the start: a slow write is caught up, not added to every later one.
    const due = started + n * periodMs;
    if (due > Date.now()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, due - Date.now());
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (stopping) break;
    }
    const next = nextWrite(args.tenant, runId, n);
    try {
      await write(next);
      if (next.type === 'order.recorded') counts.orders++;
      else counts.sessions++;
    } catch (error) {
      counts.failed++;
      const message = error instanceof Error ? error.message : String(error);
      if (counts.orders + counts.sessions === 0) {
        process.stderr.write(`simulate: ${message}\n`);
        code = 1;
        break;
      }
      if (Date.now() - lastError > 1_000) process.stderr.write(`simulate: ${message} (${counts.failed} failed so far)\n`);
      lastError = Date.now();
    }
    if (Date.now() - lastReport >= 5_000) {
      lastReport = Date.now();
      process.stdout.write(`simulate: ${counts.orders} orders, ${counts.sessions} sessions written, ${counts.failed} failed\n`);
    }
  }
  await stream?.close();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`simulate: done: ${counts.orders} orders, ${counts.sessions} sessions in ${seconds} s, ${counts.failed} failed\n`);
  return code;
}

run().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`simulate: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
