/** The `DateTime` scalar: ISO-8601 text outside, epoch milliseconds inside. */
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

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
  const m = ISO_8601.exec(value.trim());
  if (!m) throw badDateTime(value);
  // Date.parse rolls 2026-02-30 over into March: the calendar date itself must exist,
  // whatever the offset.
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) {
    throw badDateTime(value);
  }
  if (Number(m[4] ?? 0) > 23 || Number(m[5] ?? 0) > 59 || Number(m[6] ?? 0) > 59) throw badDateTime(value);
  const ms = Date.parse(m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : value.trim());
  if (!Number.isFinite(ms)) throw badDateTime(value);
  return ms;
}

export const DateTimeScalar = new GraphQLScalarType<number, string>({
  name: 'DateTime',
  serialize(value) {
    const ms = value instanceof Date ? value.getTime() : value;
    if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new GraphQLError(`DateTime cannot represent ${String(value)}`);
    return new Date(ms).toISOString();
  },
  parseValue: parseDateTime,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badDateTime(`a ${ast.kind} literal`);
    return parseDateTime(ast.value);
  },
});
