/**
 * What the driver reads off a server around a measurement: its /metrics counters,
 * the commands its Redis ran, and the peak resident memory of its process.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { commandStats } from '../test/helpers/redis.js';

/** Prometheus text → samples by metric name. Enough of the format for counters and gauges. */
export type Scrape = Map<string, Array<{ labels: Record<string, string>; value: number }>>;

export async function scrapeMetrics(origin: string): Promise<Scrape> {
  const response = await fetch(`${origin}/metrics`);
  if (!response.ok) throw new Error(`${origin}/metrics answered HTTP ${response.status}`);
  const out: Scrape = new Map();
  for (const line of (await response.text()).split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const list = out.get(m[1]!) ?? [];
    list.push({ labels, value: Number(m[3]) });
    out.set(m[1]!, list);
  }
  return out;
}

/** Sum of a metric's samples, or per value of one label. */
export function sumOf(scrape: Scrape, name: string): number {
  return (scrape.get(name) ?? []).reduce((n, s) => n + s.value, 0);
}
export function sumBy(scrape: Scrape, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of scrape.get(name) ?? []) {
    const key = s.labels[label] ?? '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/** Commands run by the servers at `urls`, by name, without the INFO the bench itself sends to count them. */
export async function storeCommands(urls: string[]): Promise<Record<string, number>> {
  const stats = await commandStats(urls);
  delete stats.info;
  return stats;
}

/** after − before, per key, leaving out zeros. */
export function minus(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(after)) {
    const d = n - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

/**
 * Starts a fresh peak-RSS window for `pid` (Linux: writing 5 to clear_refs resets
 * VmHWM to the current RSS). False where that is not allowed: VmHWM is then the
 * peak since the process started.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** VmHWM of `pid` in MiB, or undefined when /proc cannot tell. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
