/** Reads Prometheus text exposition, for assertions on /metrics. */

/** One scrape of /metrics, parsed. */
export interface PromText {
  /** Sum of every sample of `name` whose labels include `labels`. */
  value(name: string, labels?: Record<string, string>): number;
  /** The scrape as it came. */
  text: string;
}

/** Parses Prometheus text exposition: every sample line with its labels; comments and blank lines are skipped. */
export function parsePrometheus(text: string): PromText {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return {
    text,
    value: (name, labels = {}) =>
      samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((a, s) => a + s.value, 0),
  };
}

/** Adds the same counter over several scrapes (several instances). */
export function sumOver(scrapes: PromText[], name: string, labels?: Record<string, string>): number {
  return scrapes.reduce((a, s) => a + s.value(name, labels), 0);
}
