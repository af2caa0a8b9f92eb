/**
 * The Redis store, for a single server (REDIS_URL) or a cluster
 * (REDIS_CLUSTER_NODES), through ioredis. Keys of one call are grouped by hash slot:
 * a dashboard's keys share one tenant tag, so its warm read is one MGET, and no
 * multi-key command ever crosses slots in a cluster.
 */
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ChainableCommander, type ClusterOptions, type RedisOptions } from 'ioredis';
import { droppedToken, tombstone, VALIDATOR_JOURNAL_DEPTH, type CacheStore, type StoreWrite } from './store.js';

/** @default commandTimeoutMs 500, connectTimeoutMs 2000 */
export interface RedisStoreOptions {
  /** A command not answered by then fails (and the source answers). @default 500 */
  commandTimeoutMs?: number;
  /** @default 2000 */
  connectTimeoutMs?: number;
}

/**
 * Lock release, atomic: delete the key only while it still holds the caller's token,
 * so that a holder whose lock expired cannot release the next holder's lock.
 */
const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Conditional write of a batch (store.ts `WriteBackOptions`): ARGV[1] is the instant
 * the computation began reading the source, ARGV[2] the metric's validator as read
 * before that ('' for none), then value, ttl pairs in the order of the entries. With a
 * validator, KEYS[1] is its key and the entries follow. While the validator is
 * unchanged, each entry is set unless it holds a tombstone of ARGV[1] or later; once it
 * moved or was lost (evicted, expired, Redis restarted empty), only over a tombstone
 * older than ARGV[1], since a drop after it would have replaced that tombstone and an
 * absent key may be a newer one evicted. Atomic, so no drop slips in between.
 */
const SET_UNLESS_INVALIDATED = `
local since = tonumber(ARGV[1])
local expected = ARGV[2]
local first = 1
local unchanged = true
if expected ~= '' then
  first = 2
  unchanged = redis.call('GET', KEYS[1]) == expected
end
for i = first, #KEYS do
  local current = redis.call('GET', KEYS[i])
  local t = nil
  if current then t = tonumber(string.match(current, '^{"t":(%d+)}$')) end
  local write
  if unchanged then write = not (t and t >= since) else write = t ~= nil and t < since end
  if write then
    local j = i - first + 1
    redis.call('SET', KEYS[i], ARGV[1 + 2 * j], 'PX', ARGV[2 + 2 * j])
  end
end
return 0`;

/**
 * Tombstones in place of entries, and new validators, in one atomic step. KEYS: the
 * entries, then the validators; ARGV: tombstone, its ttl, how many KEYS are entries,
 * validator value, its ttl, what the drop dropped (store.ts `droppedToken`), the
 * journal's depth. Each validator becomes store.ts `nextValidator` of what it held.
 * Returns how many entries were live (not tombstones).
 */
const INVALIDATE = `
local n = 0
local entries = tonumber(ARGV[3])
for i = 1, entries do
  local current = redis.call('GET', KEYS[i])
  if current and not string.match(current, '^{"t":%d+}$') then n = n + 1 end
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
local depth = tonumber(ARGV[7])
for i = entries + 1, #KEYS do
  local previous = redis.call('GET', KEYS[i])
  local value = ARGV[4]
  if previous and previous ~= '' then
    local id = string.match(previous, '^[^|]*')
    value = value .. '|' .. id .. ':' .. ARGV[6]
    local kept = 1
    for entry in string.gmatch(string.sub(previous, #id + 2), '[^|]+') do
      if kept >= depth then break end
      value = value .. '|' .. entry
      kept = kept + 1
    end
  end
  redis.call('SET', KEYS[i], value, 'PX', ARGV[5])
end
return n`;

/** True for Redis's refusal of a write over `maxmemory` under `noeviction` (`OOM command not allowed …`). */
function isOutOfMemory(error: unknown): boolean {
  return /^OOM /.test((error as Error)?.message ?? '');
}

/** ioredis's error for a command not answered within `commandTimeout`. */
const COMMAND_TIMED_OUT = 'Command timed out';

type Client = Redis | Cluster;
type ReleaseCapable = Client & {
  releaseLock(key: string, token: string): Promise<number>;
  setUnlessInvalidated(...args: Array<string | number>): Promise<number>;
  invalidateKeys(...args: Array<string | number>): Promise<number>;
};

function baseOptions(options: RedisStoreOptions): RedisOptions {
  return {
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: options.connectTimeoutMs ?? 2_000,
    // Fail fast while disconnected instead of queueing: the source answers meanwhile.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Reconnect for ever, backing off to 2 s: caching resumes by itself when Redis returns.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    lazyConnect: true,
  };
}

/** A store on one Redis server at `url` (redis://…); connects lazily, reconnects for ever. */
export function createRedisStore(url: string, options: RedisStoreOptions = {}): CacheStore {
  const client = new Redis(url, baseOptions(options));
  return wrap(client, 'redis');
}

/** A store on a Redis Cluster reached through any of `nodes`; keys of one call are grouped by slot. */
export function createClusterStore(nodes: ReadonlyArray<{ host: string; port: number }>, options: RedisStoreOptions = {}): CacheStore {
  const clusterOptions: ClusterOptions = {
    redisOptions: baseOptions(options),
    enableOfflineQueue: false,
    lazyConnect: true,
    clusterRetryStrategy: (times) => Math.min(times * 100, 2_000),
    slotsRefreshTimeout: options.connectTimeoutMs ?? 2_000,
  };
  const client = new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions,
  );
  return wrap(client, 'cluster');
}

function wrap(raw: Client, kind: 'redis' | 'cluster'): CacheStore {
  raw.defineCommand('releaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK });
  raw.defineCommand('setUnlessInvalidated', { lua: SET_UNLESS_INVALIDATED });
  raw.defineCommand('invalidateKeys', { lua: INVALIDATE });
  const client = raw as ReleaseCapable;
  // ioredis reports connection errors as events; without a listener they would be
  // logged as unhandled. Each failed command is counted where it fails.
  client.on('error', () => {});
  let connecting: Promise<void> | undefined = client.connect().catch(() => {});

  /** Keys grouped by hash slot, each with its positions in the original list. */
  const bySlot = <T extends { key: string }>(items: readonly T[]) => {
    // An empty batch must not become a command with no keys (UNLINK would refuse it).
    if (kind === 'redis') return items.length > 0 ? [items] : [];
    const groups = new Map<number, T[]>();
    for (const item of items) {
      const slot = calculateSlot(item.key);
      let group = groups.get(slot);
      if (!group) groups.set(slot, (group = []));
      group.push(item);
    }
    return [...groups.values()];
  };

  const execPipeline = async (pipeline: ChainableCommander) => {
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error) throw error;
    return results.map(([, value]) => value);
  };

  const scanNodes = (): Redis[] => (kind === 'cluster' ? (client as Cluster).nodes('master') : [client as Redis]);

  return {
    kind,
    async getMany(keys) {
      if (keys.length === 0) return [];
      const out = new Array<string | null>(keys.length).fill(null);
      const groups = bySlot(keys.map((key, index) => ({ key, index })));
      await Promise.all(
        groups.map(async (group) => {
          const values = await client.mget(...group.map((g) => g.key));
          group.forEach((g, i) => (out[g.index] = values[i] ?? null));
        }),
      );
      return out;
    },
    async setMany(writes: readonly StoreWrite[], options) {
      if (writes.length === 0) return;
      const since = options?.unlessInvalidatedSince;
      if (since !== undefined) {
        const validator = options?.validator;
        await Promise.all(
          bySlot(writes).map((group) =>
            client.setUnlessInvalidated(
              group.length + (validator ? 1 : 0),
              ...(validator ? [validator.key] : []),
              ...group.map((w) => w.key),
              Math.floor(since),
              validator?.value ?? '',
              ...group.flatMap((w) => [w.value, Math.max(1, Math.ceil(w.ttlMs))]),
            ),
          ),
        );
        return;
      }
      await Promise.all(
        bySlot(writes).map((group) => {
          const pipeline = client.pipeline();
          for (const w of group) pipeline.set(w.key, w.value, 'PX', Math.max(1, Math.ceil(w.ttlMs)));
          return execPipeline(pipeline);
        }),
      );
    },
    async invalidate(keys, at, ttlMs, validators) {
      const items = [
        ...keys.map((key) => ({ key, validator: false })),
        ...(validators?.keys ?? []).map((key) => ({ key, validator: true })),
      ];
      if (items.length === 0) return 0;
      // A tenant's entries and validators share its hash tag: one script per tenant.
      const counts = await Promise.all(
        bySlot(items).map(async (group) => {
          const entries = group.filter((g) => !g.validator).map((g) => g.key);
          const ours = group.filter((g) => g.validator).map((g) => g.key);
          try {
            return await client.invalidateKeys(
              entries.length + ours.length,
              ...entries,
              ...ours,
              tombstone(at),
              Math.max(1, Math.ceil(ttlMs)),
              entries.length,
              validators?.value ?? '',
              Math.max(1, Math.ceil(validators?.ttlMs ?? 1)),
              droppedToken(entries),
              VALIDATOR_JOURNAL_DEPTH,
            );
          } catch (error) {
            // Out of memory under `noeviction`: the tombstones' SETs are refused, and the
            // entries of before the write would be served again. A delete frees memory, so
            // Redis still takes it: the entries go, and the validators with them (a lost
            // validator is never trusted, loader.ts), then the failure is reported.
            if (isOutOfMemory(error)) await client.unlink(...entries, ...ours);
            throw error;
          }
        }),
      );
      return counts.reduce((a, b) => a + Number(b), 0);
    },
    async deleteMany(keys) {
      if (keys.length === 0) return 0;
      const counts = await Promise.all(bySlot(keys.map((key) => ({ key }))).map((group) => client.unlink(...group.map((g) => g.key))));
      return counts.reduce((a, b) => a + b, 0);
    },
    async deleteByPrefix(prefix) {
      // Escape glob characters so that the prefix matches itself only.
      const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
      let deleted = 0;
      for (const node of scanNodes()) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          // In a cluster, SCAN of one node returns only keys it serves; UNLINK them there.
          for (const group of bySlot(keys.map((key) => ({ key })))) deleted += await node.unlink(...group.map((g) => g.key));
        } while (cursor !== '0');
      }
      return deleted;
    },
    async acquireLock(key, token, ttlMs) {
      try {
        return (await client.set(key, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
      } catch (error) {
        // Timed out: the SET was sent and may still run, once a stalled Redis answers
        // again, leaving a lock nobody will release (the caller went on without it), and
        // every other worker waiting on it. A release sent right behind it on the same
        // connection runs after it and undoes it; nobody waits for that either.
        if ((error as Error)?.message === COMMAND_TIMED_OUT) void client.releaseLock(key, token).catch(() => {});
        throw error;
      }
    },
    async releaseLock(key, token) {
      return (await client.releaseLock(key, token)) === 1;
    },
    onReady(listener) {
      // ioredis emits 'ready' on every (re)connection, once its ready check has passed.
      client.on('ready', listener);
    },
    async ping() {
      try {
        if (connecting) await connecting;
        connecting = undefined;
        if (kind === 'cluster') {
          const results = await Promise.all((client as Cluster).nodes('master').map((n) => n.ping()));
          return results.length > 0 && results.every((r) => r === 'PONG');
        }
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      client.disconnect();
    },
  };
}
