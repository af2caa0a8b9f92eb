/**
 * Reads `dashboard:events` with one consumer group shared by every instance, so that
 * each event is handled once and none is lost when an instance restarts.
 *
 * | step                          | what happens                                              |
 * |-------------------------------|-----------------------------------------------------------|
 * | start                         | XGROUP CREATE … MKSTREAM from the start (idempotent)      |
 * | loop                          | XREADGROUP … BLOCK: new entries for this consumer         |
 * | entry handled                 | XACK                                                      |
 * | entry malformed               | logged, counted, XACK: never retried                      |
 * | handler fails (database down) | not acked: stays pending, retried after `claimIdleMs`     |
 * | failed `maxAttempts` times    | logged, counted, XACK                                     |
 * | instance crashed mid-entry    | its pending entries idle; XAUTOCLAIM hands them to another|
 * | NOGROUP (Redis restarted      | the group is made again (XGROUP CREATE … 0 MKSTREAM) and  |
 * | empty, flushed, failed over)  | reading goes on at once: events published since are read  |
 * | stop (the instance stops)     | no new read; the entries in hand are handled and acked    |
 * |                               | for up to `stopGraceMs`; the rest stay pending, claimed   |
 * |                               | by another instance after `claimIdleMs`                   |
 *
 * It needs a connection of its own (XREADGROUP BLOCK holds it), and owns it: `stop`
 * closes it.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { fieldsToRecord, MalformedEventError, parseStreamEvent, EVENT_STREAM } from './stream.js';
import type { DomainEvent } from './types.js';

/**
 * How one stream entry ended, the label `onResult` counts it by: `ingested` (a new row),
 * `duplicate` (its row was already there), `malformed` (dropped without retry), `failed`
 * (dropped after `maxAttempts` failed deliveries).
 */
export type ConsumeResult = 'ingested' | 'duplicate' | 'malformed' | 'failed';

/** @default group 'dashboard-api', blockMs 1000, batch 100, claimIdleMs 30000, maxAttempts 5, stopGraceMs 5000 */
export interface StreamConsumerOptions {
  redis: Redis | Cluster;
  /**
   * A connection that never blocks, for `pending()`: on `redis` an XPENDING would wait
   * behind the consumer's blocking read, up to `blockMs`. @default redis
   */
  admin?: Redis | Cluster | undefined;
  /** Handles one event; resolves with whether its row was new. */
  handle(event: DomainEvent): Promise<boolean>;
  logger: Logger;
  /** Counts each entry by outcome. */
  onResult?: (result: ConsumeResult, type: string) => void;
  stream?: string;
  /** @default 'dashboard-api' */
  group?: string;
  /** Unique per process. @default `<hostname>-<pid>-<random>` */
  consumer?: string;
  /** How long one XREADGROUP waits for new entries. @default 1000 */
  blockMs?: number;
  /** Entries per read. @default 100 */
  batch?: number;
  /** Pending entries idle this long are claimed from whoever had them. @default 30000 */
  claimIdleMs?: number;
  /** Deliveries of one entry before it is given up. @default 5 */
  maxAttempts?: number;
  /** How long `stop` lets the entries in hand finish (and be acknowledged) before it cuts. @default 5000 */
  stopGraceMs?: number;
  clock?: () => number;
}

type Entry = [id: string, fields: string[]];

/**
 * One consumer of the shared group (the table above). `start` begins reading in the
 * background; `stop` closes the connection it was given and waits for the loop.
 */
export class StreamConsumer {
  private running = false;
  /** Set once `stop` gives up on the entries in hand: none more is handled. */
  private cut = false;
  private loop: Promise<void> | undefined;
  /** The handling of the entries in hand (one read's or one claim's), while it runs. */
  private holding: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly attempts = new Map<string, number>();
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;

  constructor(private readonly options: StreamConsumerOptions) {
    this.stream = options.stream ?? EVENT_STREAM;
    this.group = options.group ?? 'dashboard-api';
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  /** Creates the group if needed and starts reading in the background. */
  async start(): Promise<void> {
    await this.createGroup();
    this.running = true;
    this.loop = this.run();
  }

  /** XGROUP CREATE … MKSTREAM, from the start of the stream; a group that exists already is fine. */
  private async createGroup(): Promise<void> {
    try {
      // From the start of the stream: ingestion is idempotent, so reading events that
      // came before the group existed loses nothing and repeats nothing.
      await this.options.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
  }

  /**
   * Stops (the table above): reads nothing new, lets the entries in hand finish for up to
   * `stopGraceMs`, then ends the blocking read by closing the connection (which it owns)
   * and waits. Once only: a second call resolves with the first.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.running = false;
      // Entries delivered to this consumer and being handled: acknowledging them here
      // saves another instance claimIdleMs of waiting and a second delivery.
      if (this.holding) await within(this.holding, this.options.stopGraceMs ?? 5_000);
      this.cut = true;
      this.options.redis.disconnect();
      // A read queued while Redis is unreachable may never settle; do not wait on it for ever.
      await within(this.loop, (this.options.blockMs ?? 1_000) + 1_000);
    })();
    return this.stopping;
  }

  /** Entries delivered to the group and not yet acknowledged (the stream's lag). */
  async pending(): Promise<number> {
    const summary = (await (this.options.admin ?? this.options.redis).xpending(this.stream, this.group)) as [number, ...unknown[]];
    return Number(summary[0] ?? 0);
  }

  private async run(): Promise<void> {
    const { redis, logger } = this.options;
    const blockMs = this.options.blockMs ?? 1_000;
    const batch = this.options.batch ?? 100;
    const claimIdleMs = this.options.claimIdleMs ?? 30_000;
    const clock = this.options.clock ?? Date.now;
    let lastClaim = 0;
    while (this.running) {
      try {
        if (clock() - lastClaim >= Math.min(claimIdleMs, 5_000)) {
          lastClaim = clock();
          const claimed = (await redis.xautoclaim(this.stream, this.group, this.consumer, claimIdleMs, '0-0', 'COUNT', batch)) as [
            string,
            Entry[],
          ];
          await this.hold(claimed[1] ?? []);
        }
        const read = (await redis.xreadgroup(
          'GROUP',
          this.group,
          this.consumer,
          'COUNT',
          batch,
          'BLOCK',
          blockMs,
          'STREAMS',
          this.stream,
          '>',
        )) as Array<[string, Entry[]]> | null;
        for (const [, entries] of read ?? []) await this.hold(entries);
      } catch (error) {
        if (!this.running) break;
        // The group is gone with the data (a Redis restarted without persistence, a
        // FLUSHALL, a failover to a replica that never had it): XREADGROUP would answer
        // NOGROUP for ever. Make it again and read on; what the stream holds now is read
        // from its start, as at first start-up.
        if (String((error as Error)?.message).startsWith('NOGROUP')) {
          try {
            await this.createGroup();
            logger.warn(
              { stream: this.stream, group: this.group },
              'event stream consumer group was missing (Redis lost its data); made it again',
            );
            continue;
          } catch (createError) {
            if (!this.running) break;
            logger.warn({ err: createError, stream: this.stream }, 'event stream consumer group missing and could not be made; retrying');
          }
        } else logger.warn({ err: error, stream: this.stream }, 'event stream read failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(blockMs, 1_000)));
      }
    }
  }

  /** Handles `entries`, visible to `stop` as the entries in hand. */
  private async hold(entries: Entry[]): Promise<void> {
    const work = this.handleAll(entries);
    this.holding = work.catch(() => {});
    try {
      await work;
    } finally {
      this.holding = undefined;
    }
  }

  private async handleAll(entries: Entry[]): Promise<void> {
    for (const entry of entries) {
      // Cut by `stop`: the rest stay pending for another instance.
      if (this.cut) return;
      if (entry && entry[1]) await this.handleOne(entry[0], entry[1]);
    }
  }

  private async handleOne(id: string, rawFields: string[]): Promise<void> {
    const { redis, logger, onResult, handle } = this.options;
    const clock = this.options.clock ?? Date.now;
    const fields = fieldsToRecord(rawFields);
    const type = ['order.recorded', 'session.recorded'].includes(fields.type ?? '') ? fields.type! : 'unknown';
    let event: DomainEvent;
    try {
      event = parseStreamEvent(fields, clock());
    } catch (error) {
      if (!(error instanceof MalformedEventError)) throw error;
      logger.warn({ entry: id, stream: this.stream, reason: error.message }, 'malformed event acknowledged and dropped');
      onResult?.('malformed', type);
      await redis.xack(this.stream, this.group, id);
      return;
    }
    try {
      const inserted = await handle(event);
      await redis.xack(this.stream, this.group, id);
      this.attempts.delete(id);
      onResult?.(inserted ? 'ingested' : 'duplicate', type);
    } catch (error) {
      const attempts = (this.attempts.get(id) ?? 0) + 1;
      this.attempts.set(id, attempts);
      if (attempts >= (this.options.maxAttempts ?? 5)) {
        logger.error({ err: error, entry: id, attempts }, 'event failed too often; acknowledged and dropped');
        onResult?.('failed', type);
        this.attempts.delete(id);
        await redis.xack(this.stream, this.group, id);
      } else {
        // Left pending: XAUTOCLAIM delivers it again once it has idled claimIdleMs.
        logger.warn({ err: error, entry: id, attempts }, 'event handling failed; will retry');
      }
    }
  }
}

/** Waits for `work`, but no longer than `ms`. */
async function within(work: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
