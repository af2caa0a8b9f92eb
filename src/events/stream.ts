/**
 * Domain events as other services publish them on the Redis stream
 * `dashboard:events` (CONTRACT.md, "Domain events"): flat string fields, checked here
 * as strictly as our own writes. Pure: no IO.
 */
import { parseIsoInstant } from '../domain/iso-time.js';
import { validateAmount, validateId, validateOccurredAt } from '../domain/validation.js';
import { DomainError } from '../errors.js';
import { isRegion } from '../source/types.js';
import { DOMAIN_EVENTS, type DomainEvent } from './types.js';

/** The stream other services publish to. */
export const EVENT_STREAM = 'dashboard:events';

/** Why a stream entry cannot be ingested; it is acknowledged and counted, never retried. */
export class MalformedEventError extends Error {
  override name = 'MalformedEventError';
}

/** Stream fields as ioredis returns them: [name, value, name, value, …]. */
export function fieldsToRecord(fields: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  return record;
}

/**
 * The domain event in a stream entry.
 * @throws MalformedEventError naming the field at fault.
 */
export function parseStreamEvent(fields: Readonly<Record<string, string>>, nowMs: number): DomainEvent {
  const need = (name: string): string => {
    const value = fields[name];
    if (value === undefined || value === '') throw new MalformedEventError(`field "${name}" is missing`);
    return value;
  };
  const checked = <T>(run: () => T): T => {
    try {
      return run();
    } catch (error) {
      if (error instanceof DomainError) throw new MalformedEventError(error.message.replace(/^input\./, ''));
      throw error;
    }
  };
  const type = need('type');
  if (!(DOMAIN_EVENTS as readonly string[]).includes(type)) {
    throw new MalformedEventError(`field "type" is "${type.slice(0, 40)}"; expected one of ${DOMAIN_EVENTS.join(', ')}`);
  }
  const id = checked(() => validateId(need('id'), 'id'));
  const tenant = checked(() => validateId(need('tenant'), 'tenant'));
  const region = need('region');
  if (!isRegion(region)) throw new MalformedEventError(`field "region" is "${region.slice(0, 20)}"; expected EU, NA or APAC`);
  const occurredAt = parseIsoInstant(need('occurredAt'));
  if (occurredAt === undefined) throw new MalformedEventError('field "occurredAt" is not an ISO-8601 instant with a zone');
  checked(() => validateOccurredAt(occurredAt, nowMs, 'occurredAt'));

  if (type === 'order.recorded') {
    const raw = need('amount');
    if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw))
      throw new MalformedEventError(`field "amount" is "${raw.slice(0, 20)}"; expected a number`);
    const cents = checked(() => validateAmount(Number(raw), 'amount'));
    return {
      type,
      id,
      tenant,
      region,
      occurredAt,
      productId: checked(() => validateId(need('productId'), 'productId')),
      customerId: checked(() => validateId(need('customerId'), 'customerId')),
      amount: cents / 100,
    };
  }
  return { type: 'session.recorded', id, tenant, region, occurredAt, visitorId: checked(() => validateId(need('visitorId'), 'visitorId')) };
}
