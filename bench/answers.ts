/**
 * Comparing two GraphQL answers: the bench checks each server against its reference,
 * the soak each instance against an uncached one.
 */

/**
 * The first difference between two answers, or undefined. `customers.total` may
 * differ by 2%: the cached path merges per-bucket sketches (CONTRACT.md allows it).
 */
export function difference(expected: unknown, actual: unknown, path = ''): string | undefined {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (path.endsWith('customers.total'))
      return Math.abs(expected - actual) <= 0.02 * Math.max(1, expected) ? undefined : `${path}: ${actual}, expected ${expected} ±2%`;
    return expected === actual ? undefined : `${path}: ${actual}, expected ${expected}`;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) return `${path}: ${actual.length} items, expected ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      const d = difference(expected[i], actual[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (expected && actual && typeof expected === 'object' && typeof actual === 'object') {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const key of keys) {
      const d = difference(
        (expected as Record<string, unknown>)[key],
        (actual as Record<string, unknown>)[key],
        path ? `${path}.${key}` : key,
      );
      if (d) return d;
    }
    return undefined;
  }
  return expected === actual
    ? undefined
    : `${path}: ${JSON.stringify(actual)?.slice(0, 80)}, expected ${JSON.stringify(expected)?.slice(0, 80)}`;
}
