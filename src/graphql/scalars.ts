/** The `DateTime` scalar: ISO-8601 text outside, epoch milliseconds inside. */
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { parseIsoInstant } from '../domain/iso-time.js';

function badDateTime(value: unknown): GraphQLError {
  const shown = typeof value === 'string' ? `"${value.slice(0, 40)}"` : String(value);
  return new GraphQLError(
    `DateTime must be ISO-8601 with a zone, e.g. "2026-11-25T14:00:00Z" (or a date "2026-11-25" for midnight UTC); got ${shown}.`,
    { extensions: { code: 'BAD_USER_INPUT' } },
  );
}

/** Parses ISO-8601 text to epoch ms, refusing impossible dates such as 2026-02-30. */
export function parseDateTime(value: unknown): number {
  if (typeof value !== 'string') throw badDateTime(value);
  const ms = parseIsoInstant(value);
  if (ms === undefined) throw badDateTime(value);
  return ms;
}

/**
 * ISO text of instants already written: a dashboard serialises the same bucket starts
 * on every request (2,160 of them for 90 days by hour), and a `Date` per point was a
 * visible share of a warm request. Bounded: cleared when full.
 */
const ISO_TEXT = new Map<number, string>();
const ISO_TEXT_MAX = 100_000;

/** The ISO-8601 text of an epoch-ms instant, remembered. */
export function isoText(ms: number): string {
  let text = ISO_TEXT.get(ms);
  if (text === undefined) {
    if (ISO_TEXT.size >= ISO_TEXT_MAX) ISO_TEXT.clear();
    text = new Date(ms).toISOString();
    ISO_TEXT.set(ms, text);
  }
  return text;
}

/**
 * `DateTime`: serialized as ISO-8601 UTC text from epoch ms (or a Date); parsed from
 * ISO-8601 text to epoch ms. Bad input is a BAD_USER_INPUT error that shows an example.
 */
export const DateTimeScalar = new GraphQLScalarType<number, string>({
  name: 'DateTime',
  serialize(value) {
    const ms = value instanceof Date ? value.getTime() : value;
    if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new GraphQLError(`DateTime cannot represent ${String(value)}`);
    return isoText(ms);
  },
  parseValue: parseDateTime,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badDateTime(`a ${ast.kind} literal`);
    return parseDateTime(ast.value);
  },
});
