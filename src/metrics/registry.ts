/**
 * The metric registry: a set of declarations, checked for consistency once, and the
 * questions every other part asks of them — which metrics an event changes, which
 * stored metrics stand behind a name, who may read a field. Derived metrics have no
 * events and no role rule of their own: both come from their inputs, so the two can
 * never disagree.
 */
import { ROLES, type Role } from '../auth/identity.js';
import { DOMAIN_EVENTS, type DomainEventType } from '../events/types.js';
import { isStored, type MetricDefinition, type MetricName, type StoredMetric } from './define.js';
import { DASHBOARD_METRICS } from './definitions.js';

/** Declarations that contradict each other; the message lists every problem. */
export class DeclarationError extends Error {
  override name = 'DeclarationError';
}

/** A checked, indexed set of metric declarations: what every other part asks of them. */
export interface MetricRegistry {
  /** Every metric, in declaration order. */
  readonly all: readonly MetricDefinition[];
  /** The metrics kept in the cache, each with its own buckets. */
  readonly stored: readonly StoredMetric[];
  /** The metric called `name`, or undefined. */
  get(name: MetricName): MetricDefinition | undefined;
  /** Events that change `metric` (a derived metric's are its inputs'). */
  eventsOf(metric: MetricDefinition): readonly DomainEventType[];
  /** Every metric an event changes, derived ones included, in declaration order. */
  touchedBy(event: DomainEventType): MetricName[];
  /** The stored metrics behind `names` (a derived metric stands for its inputs); all when empty. */
  storedBehind(names: readonly MetricName[] | undefined): StoredMetric[];
  /** The stored metrics named and every metric computed from them, in declaration order. */
  affectedBy(stored: readonly StoredMetric[]): MetricName[];
  /** Schema coordinate → the roles that may read it; coordinates absent are open to all. */
  readonly readRules: ReadonlyMap<string, readonly Role[]>;
}

/**
 * Checks the declarations against each other and indexes them.
 * @throws DeclarationError listing every problem: duplicate names or fields, unknown
 *   events, a derived metric whose inputs are not stored sums or distinct counts,
 *   an empty role list, a top-N limit outside 1..max.
 */
export function createMetricRegistry(declarations: readonly MetricDefinition[] = DASHBOARD_METRICS): MetricRegistry {
  const problems: string[] = [];
  const byName = new Map<MetricName, MetricDefinition>();
  const fields = new Set<string>();
  for (const metric of declarations) {
    if (byName.has(metric.name)) problems.push(`metric ${metric.name} is declared twice`);
    byName.set(metric.name, metric);
    for (const field of [metric.field, ...(metric.alsoShownIn ?? [])]) {
      if (fields.has(field)) problems.push(`field ${field} is claimed by more than one metric (${metric.name} and another)`);
      fields.add(field);
    }
    if (metric.readableBy && (metric.readableBy.length === 0 || metric.readableBy.some((r) => !ROLES.includes(r)))) {
      problems.push(`metric ${metric.name}: readableBy must list roles of ${ROLES.join(', ')}, got [${metric.readableBy.join(', ')}]`);
    }
    if (isStored(metric)) {
      for (const event of metric.events) {
        if (!(DOMAIN_EVENTS as readonly string[]).includes(event)) {
          problems.push(`metric ${metric.name} names event "${event}", which is not a domain event (${DOMAIN_EVENTS.join(', ')})`);
        }
      }
      if (metric.events.length === 0) problems.push(`metric ${metric.name} names no event: nothing would ever invalidate it`);
      if (metric.combine === 'topN' && !(metric.limit.default >= 1 && metric.limit.default <= metric.limit.max)) {
        problems.push(
          `metric ${metric.name}: limit.default must be from 1 to limit.max (${metric.limit.max}), got ${metric.limit.default}`,
        );
      }
    }
  }
  for (const metric of declarations) {
    if (metric.combine !== 'derived') continue;
    if (metric.inputs.length === 0) problems.push(`derived metric ${metric.name} has no inputs`);
    for (const input of metric.inputs) {
      const source = byName.get(input);
      if (!source || (source.combine !== 'sum' && source.combine !== 'distinct')) {
        problems.push(`derived metric ${metric.name} needs ${input}, which is not a declared sum or distinct metric`);
      }
    }
  }
  if (problems.length) throw new DeclarationError(`metric declarations are inconsistent:\n- ${problems.join('\n- ')}`);

  const stored = declarations.filter(isStored);
  const inputsOf = (metric: MetricDefinition): StoredMetric[] =>
    metric.combine === 'derived' ? metric.inputs.map((i) => byName.get(i) as StoredMetric) : [metric];
  const eventsOf = (metric: MetricDefinition): DomainEventType[] => [...new Set(inputsOf(metric).flatMap((m) => m.events))];

  // A field is readable by the roles every metric it reveals allows.
  const readRules = new Map<string, readonly Role[]>();
  for (const metric of declarations) {
    let allowed: readonly Role[] = ROLES;
    for (const m of [metric, ...inputsOf(metric)]) if (m.readableBy) allowed = allowed.filter((r) => m.readableBy!.includes(r));
    if (allowed.length === ROLES.length) continue;
    for (const field of [metric.field, ...(metric.alsoShownIn ?? [])]) readRules.set(field, allowed);
  }

  return {
    all: declarations,
    stored,
    get: (name) => byName.get(name),
    eventsOf,
    touchedBy: (event) => declarations.filter((m) => eventsOf(m).includes(event)).map((m) => m.name),
    storedBehind(names) {
      if (!names || names.length === 0) return [...stored];
      const wanted = new Set(names.flatMap((n) => (byName.has(n) ? inputsOf(byName.get(n)!) : [])));
      return stored.filter((m) => wanted.has(m));
    },
    affectedBy(changed) {
      const set = new Set(changed);
      return declarations.filter((m) => inputsOf(m).some((i) => set.has(i))).map((m) => m.name);
    },
    readRules,
  };
}

/** The dashboard's registry. */
export const DASHBOARD_REGISTRY: MetricRegistry = createMetricRegistry();
