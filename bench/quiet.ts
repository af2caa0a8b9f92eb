/**
 * Whether the machine is quiet. A server whose load just ended may still be working
 * through what its connections had sent (a slow one for seconds: `uncached`, or the
 * whole-response cache under the sliding load), on a CPU the next server measured
 * needs; each cell waits for that first (bench/dashboard.ts settle).
 */
import { readFileSync } from 'node:fs';

function busyAndTotal(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy. The
    // columns after (guest, guest_nice) are counted inside user and nice already.
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/**
 * Waits until the machine is quiet: less than `busyBelow` of all CPUs busy over one
 * `stepMs` (at most `capMs` in all). A server whose load just ended may still be
 * working through what its connections had sent (a slow one for seconds), on the CPU
 * the next server is measured on; each cell waits for that first. Resolves with the
 * time waited, or undefined where /proc/stat cannot be read (nothing is waited for).
 */
export async function quiet(busyBelow = 0.1, stepMs = 200, capMs = 20_000): Promise<{ waitedMs: number; capped: boolean } | undefined> {
  const started = performance.now();
  let before = busyAndTotal();
  if (!before) return undefined;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, stepMs));
    const now = busyAndTotal()!;
    const share = (now.busy - before.busy) / Math.max(1, now.total - before.total);
    const waitedMs = performance.now() - started;
    if (share < busyBelow) return { waitedMs, capped: false };
    if (waitedMs >= capMs) return { waitedMs, capped: true };
    before = now;
  }
}
