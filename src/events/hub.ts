/**
 * The subscription hub of one instance: notices from the fanout, coalesced per
 * tenant for `coalesceMs`, then delivered to this instance's subscribers of that
 * tenant, each filtered to its region scope and the metrics it asked for. A burst of
 * a hundred orders in a second reaches a subscriber as a few events with merged
 * ranges, not a hundred.
 */
import type { Fanout, InvalidationNotice } from './notices.js';

/** What a subscriber receives. */
export interface MetricsInvalidatedPayload {
  /** Metrics whose values changed, in declaration order (`metricOrder`). */
  metrics: string[];
  /** Start of the merged changed range, epoch ms. */
  from: number;
  /** End of the merged changed range, exclusive, epoch ms. */
  to: number;
  /** The notices' reasons, sorted and joined by commas (`manual,order.recorded`). */
  reason: string;
  /** When the payload was delivered, epoch ms. */
  at: number;
}

/** Which notices one subscriber hears: always one tenant's, possibly one region's and some metrics only. */
export interface SubscriberFilter {
  /** Exact tenant of the verified token: the only tenant it ever hears. */
  tenant: string;
  /** Set when the token is region-scoped: events of other regions are not for it. */
  region?: string | undefined;
  /** Metrics asked for; all when undefined. */
  metrics?: ReadonlySet<string> | undefined;
}

/**
 * Subscribers of this instance, and the notices that reach them through the fanout: per
 * tenant, the notices of `coalesceMs` are merged into one payload per subscriber.
 */
export interface SubscriptionHub {
  /** Publishes a notice to every instance. */
  notify(notice: InvalidationNotice): Promise<void>;
  /**
   * @param end called by `endAll` (the instance stops): ends the subscriber's stream, so
   * that its client sees it complete rather than cut.
   * @returns a function that unsubscribes.
   */
  subscribe(filter: SubscriberFilter, deliver: (payload: MetricsInvalidatedPayload) => void, end?: () => void): () => void;
  /** Ends every subscription of this instance (each `end`): the first step of a stop. */
  endAll(): void;
  /** Subscribers on this instance, for the subscription gauge. */
  size(): number;
  close(): Promise<void>;
}

/** @default coalesceMs 250 */
export interface HubOptions {
  fanout: Fanout;
  /** How long notices of one tenant gather before delivery. @default 250 */
  coalesceMs?: number;
  /** Orders metric names in payloads. */
  metricOrder?: readonly string[];
  clock?: () => number;
}

/** A hub listening on `options.fanout` at once; `close` stops listening, drops pending notices and closes the fanout. */
export function createSubscriptionHub(options: HubOptions): SubscriptionHub {
  const coalesceMs = options.coalesceMs ?? 250;
  const clock = options.clock ?? Date.now;
  const order = options.metricOrder ?? [];
  const rank = (m: string) => order.indexOf(m) + 1 || order.length + 1;
  const subscribers = new Map<
    string,
    Set<{ filter: SubscriberFilter; deliver: (p: MetricsInvalidatedPayload) => void; end?: (() => void) | undefined }>
  >();
  const pending = new Map<string, InvalidationNotice[]>();
  const timers = new Map<string, NodeJS.Timeout>();

  function flush(tenant: string): void {
    timers.delete(tenant);
    const notices = pending.get(tenant) ?? [];
    pending.delete(tenant);
    for (const { filter, deliver } of subscribers.get(tenant) ?? []) {
      // A manual notice (no region) concerns every scope; an event only its region's.
      const visible = notices.filter((n) => filter.region === undefined || n.region === undefined || n.region === filter.region);
      const metrics = new Set<string>();
      const reasons = new Set<string>();
      let from = Infinity;
      let to = -Infinity;
      for (const notice of visible) {
        const wanted = notice.metrics.filter((m) => !filter.metrics || filter.metrics.has(m));
        if (wanted.length === 0) continue;
        for (const m of wanted) metrics.add(m);
        reasons.add(notice.reason);
        from = Math.min(from, notice.from);
        to = Math.max(to, notice.to);
      }
      if (metrics.size === 0) continue;
      deliver({
        metrics: [...metrics].sort((a, b) => rank(a) - rank(b)),
        from,
        to,
        reason: [...reasons].sort().join(','),
        at: clock(),
      });
    }
  }

  const stopListening = options.fanout.listen((notice) => {
    // Nobody here listens to this tenant: nothing to gather.
    if (!subscribers.get(notice.tenant)?.size) return;
    let list = pending.get(notice.tenant);
    if (!list) pending.set(notice.tenant, (list = []));
    list.push(notice);
    if (!timers.has(notice.tenant))
      timers.set(
        notice.tenant,
        setTimeout(() => flush(notice.tenant), coalesceMs),
      );
  });

  return {
    notify: (notice) => options.fanout.publish(notice),
    subscribe(filter, deliver, end) {
      let set = subscribers.get(filter.tenant);
      if (!set) subscribers.set(filter.tenant, (set = new Set()));
      const entry = { filter, deliver, end };
      set.add(entry);
      return () => {
        set.delete(entry);
        if (set.size === 0) subscribers.delete(filter.tenant);
      };
    },
    size: () => [...subscribers.values()].reduce((n, s) => n + s.size, 0),
    endAll() {
      for (const set of [...subscribers.values()]) for (const { end } of [...set]) end?.();
    },
    async close() {
      stopListening();
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      subscribers.clear();
      await options.fanout.close();
    },
  };
}
