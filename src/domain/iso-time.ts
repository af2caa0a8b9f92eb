/** ISO-8601 instants: strict parsing shared by the GraphQL scalar and the event stream. */

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * Epoch ms of an ISO-8601 instant with a zone (or a date, meaning midnight UTC), or
 * undefined when the text is not one. Impossible dates (2026-02-30, 24:00) are refused
 * rather than rolled over.
 */
export function parseIsoInstant(text: string): number | undefined {
  const m = ISO_8601.exec(text.trim());
  if (!m) return undefined;
  // Date.parse rolls 2026-02-30 over into March: the calendar date itself must exist,
  // whatever the offset.
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  if (Number(m[4] ?? 0) > 23 || Number(m[5] ?? 0) > 59 || Number(m[6] ?? 0) > 59) return undefined;
  const ms = Date.parse(m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : text.trim());
  return Number.isFinite(ms) ? ms : undefined;
}
