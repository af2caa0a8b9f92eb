/**
 * The variables of a dashboard query as its answer depends on them: the range's `from`
 * and `to` snapped outward to whole buckets, as the resolver snaps them
 * (domain/validation.ts `validateRange`). A "last 7 days" dashboard that sends the
 * current instant as `to` on every refresh then makes the same whole-response key for
 * the whole hour, and shares one kept answer — the same answer the resolver would give.
 *
 * Only where that is certain: the operation has exactly one `dashboard` field, its range
 * is `{ from: $a, to: $b }` with each variable used nowhere else, its granularity is a
 * literal, a variable or the default, and the range as sent is valid (parsed by the
 * DateTime scalar, within the limits). Anything else is left as sent, so a range the
 * resolver refuses never shares a key with one it accepts.
 */
import { Kind, OperationTypeNode, parse, visit, type ArgumentNode, type DocumentNode, type ObjectFieldNode, type ValueNode } from 'graphql';
import type { Granularity } from '../../cache/buckets.js';
import { validateRange } from '../../domain/validation.js';
import { parseDateTime } from '../scalars.js';

/** Where a document's range variables are, and how its granularity is given. */
interface RangePlan {
  from: string;
  to: string;
  granularity: { variable: string } | { literal: Granularity };
}

const plans = new Map<string, RangePlan | null>();
const PLANS_MAX = 1_000;

/** `variables` with the range of `documentString`'s dashboard snapped, where that is certain; else `variables` itself. */
export function effectiveVariables(
  documentString: string,
  variables: Readonly<Record<string, unknown>> | undefined,
): Readonly<Record<string, unknown>> | undefined {
  if (!variables) return variables;
  let plan = plans.get(documentString);
  if (plan === undefined) {
    if (plans.size >= PLANS_MAX) plans.clear();
    plans.set(documentString, (plan = planOf(documentString)));
  }
  if (!plan) return variables;
  // A granularity variable not sent takes its declared default, which is not looked at here.
  const granularity = 'literal' in plan.granularity ? plan.granularity.literal : variables[plan.granularity.variable];
  if (granularity !== 'HOUR' && granularity !== 'DAY') return variables;
  try {
    const window = validateRange(parseDateTime(variables[plan.from]), parseDateTime(variables[plan.to]), granularity);
    return { ...variables, [plan.from]: window.from, [plan.to]: window.to };
  } catch {
    return variables;
  }
}

function planOf(documentString: string): RangePlan | null {
  let document: DocumentNode;
  try {
    document = parse(documentString);
  } catch {
    return null;
  }
  if (document.definitions.some((d) => d.kind === Kind.FRAGMENT_DEFINITION)) return null;
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1 || operations[0]!.operation !== OperationTypeNode.QUERY) return null;
  const dashboards: ArgumentNode[][] = [];
  const uses = new Map<string, number>();
  visit(document, {
    Field(node) {
      if (node.name.value === 'dashboard') dashboards.push([...(node.arguments ?? [])]);
    },
    Variable(node, _key, parent) {
      // Definitions are not uses.
      if (parent && !Array.isArray(parent) && (parent as { kind?: string }).kind === Kind.VARIABLE_DEFINITION) return;
      uses.set(node.name.value, (uses.get(node.name.value) ?? 0) + 1);
    },
  });
  if (dashboards.length !== 1) return null;
  const args = dashboards[0]!;
  const range = args.find((a) => a.name.value === 'range')?.value;
  if (range?.kind !== Kind.OBJECT) return null;
  const variableOf = (name: string) => {
    const value = range.fields.find((f: ObjectFieldNode) => f.name.value === name)?.value;
    return value?.kind === Kind.VARIABLE && uses.get(value.name.value) === 1 ? value.name.value : undefined;
  };
  const from = variableOf('from');
  const to = variableOf('to');
  if (!from || !to || range.fields.length !== 2) return null;
  const granularity = granularityOf(args.find((a) => a.name.value === 'granularity')?.value, uses);
  return granularity ? { from, to, granularity } : null;
}

function granularityOf(value: ValueNode | undefined, uses: ReadonlyMap<string, number>): RangePlan['granularity'] | undefined {
  if (!value) return { literal: 'HOUR' }; // the schema's default
  if (value.kind === Kind.ENUM && (value.value === 'HOUR' || value.value === 'DAY')) return { literal: value.value };
  if (value.kind === Kind.VARIABLE && uses.get(value.name.value) === 1) return { variable: value.name.value };
  return undefined;
}
