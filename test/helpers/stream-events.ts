/** Entries another service would publish on `dashboard:events` (CONTRACT.md, "Domain events"). */

/** What an `order.recorded` entry says; the rest of its fields are fixed demo values. */
export interface OrderEventInput {
  /** The row's id and idempotency key. */
  id: string;
  /** ISO-8601 instant. */
  occurredAt: string;
  /** @default 'acme' */
  tenant?: string;
  /** @default 'EU' */
  region?: string;
  /** @default '5.25' */
  amount?: string;
}

/** The fields of an `order.recorded` stream entry, as XADD takes them (name, value, name, value…). */
export function orderEventFields(input: OrderEventInput): string[] {
  const tenant = input.tenant ?? 'acme';
  return [
    ...['type', 'order.recorded', 'id', input.id, 'tenant', tenant, 'region', input.region ?? 'EU', 'occurredAt', input.occurredAt],
    ...['productId', `${tenant}-p01`, 'customerId', 'stream-c', 'amount', input.amount ?? '5.25'],
  ];
}
