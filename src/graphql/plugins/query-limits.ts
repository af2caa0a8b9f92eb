/**
 * Query limits (CONTRACT.md): depth, aliases and tokens through graphql-armor,
 * and a cost limit counted in cached values (buckets × metric fields), refused
 * before execution.
 */
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isObjectType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { getArgumentValues } from 'graphql/execution/values.js';
import type { Plugin } from 'graphql-yoga';
import type { Granularity } from '../../cache/buckets.js';
import type { QueryLimits } from '../../config/index.js';
import { costOfRange } from '../../domain/validation.js';
import { DASHBOARD_REGISTRY, type MetricRegistry } from '../../metrics/registry.js';
import { QUERY_TOO_COMPLEX } from '../errors.js';
import type { ExecutePayload } from './execute-payload.js';

// Armor's errors carry no code; give them the one every limit refusal has.
const tagLimit = [
  (_: unknown, error: GraphQLError) => {
    (error.extensions as Record<string, unknown>).code = QUERY_TOO_COMPLEX;
  },
];

/**
 * The plugins enforcing `limits`.
 * @param registry the metric declarations: their `Dashboard` fields are what the cost counts. @default the dashboard's
 */
export function queryLimitPlugins(limits: QueryLimits, registry: MetricRegistry = DASHBOARD_REGISTRY): Plugin[] {
  return [
    maxTokensPlugin({ n: limits.maxTokens, onReject: tagLimit }),
    maxDepthPlugin({ n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true, onReject: tagLimit }),
    maxAliasesPlugin({ n: limits.maxAliases, onReject: tagLimit }),
    costLimitPlugin(limits.maxCostBuckets, metricFields(registry)),
  ] as Plugin[];
}

/**
 * The request's variables as execution will see them. `onExecute` gets them as sent
 * (a DateTime still an ISO string), and a range given as variables would otherwise
 * cost nothing; variables that do not coerce cost nothing here, since execution
 * refuses them with their own error.
 */
function coerced(args: ExecutePayload['args']): Record<string, unknown> {
  const operation = getOperationAST(args.document, args.operationName ?? undefined);
  if (!operation?.variableDefinitions?.length) return {};
  const result = getVariableValues(args.schema, operation.variableDefinitions, args.variableValues ?? {});
  return result.coerced ?? {};
}

/**
 * The schema fields that read cached metric values: every field a declaration names
 * (its own and the ones it is also shown in), as `Type.field` coordinates. For the
 * dashboard: revenue, orders, sessions, customers, averageOrderValue, conversionRate,
 * topProducts and revenueIn.
 */
export function metricFields(registry: MetricRegistry = DASHBOARD_REGISTRY): ReadonlySet<string> {
  return new Set(registry.all.flatMap((metric) => [metric.field, ...(metric.alsoShownIn ?? [])]));
}

/**
 * Adds up the cost of the operation (see `dashboardCost`), with the request's
 * variables, and refuses the request above `maxCost`. A field whose range the
 * resolver would refuse anyway costs nothing here, so that it gets its own
 * BAD_USER_INPUT rather than a cost error.
 * @param maxCost the most cached values one request may read (MAX_COST_BUCKETS).
 * @param fields the metric fields that count (`metricFields`). @default the dashboard's
 */
export function costLimitPlugin(maxCost: number, fields: ReadonlySet<string> = metricFields()): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }: ExecutePayload) {
      const cost = dashboardCost(args.schema, args.document, args.operationName ?? undefined, coerced(args), fields);
      if (cost > maxCost) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(
              `This request would read ${cost} cached values (buckets × metric fields, over every dashboard); the limit is ${maxCost}. ` +
                'Ask for shorter ranges, DAY granularity, fewer fields or fewer dashboards per request.',
              { extensions: { code: QUERY_TOO_COMPLEX, cost, limit: maxCost } },
            ),
          ],
        });
      }
    },
  };
}

/**
 * The cached values the chosen operation may read (CONTRACT.md, "Query limits"): for
 * every `Query.dashboard` field, its buckets (range ÷ granularity) times the number of
 * distinct metric fields selected inside it. A metric field counts once per
 * dashboard however often it is selected (aliases, fragments, inline fragments), and
 * whatever its directives say (`@skip`/`@include` are not evaluated: an upper bound).
 * @param fields the metric fields, as `Type.field` coordinates. @default `metricFields()`
 */
export function dashboardCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
  fields: ReadonlySet<string> = metricFields(),
): number {
  const operation = getOperationAST(document, operationName);
  const queryType = schema.getQueryType();
  if (!operation || operation.operation !== OperationTypeNode.QUERY || !queryType) return 0;
  const dashboardField = queryType.getFields().dashboard;
  if (!dashboardField) return 0;
  const dashboardType = getNamedType(dashboardField.type);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

  /** Every field selected directly in `set`, through its fragments (each fragment once per walk). */
  const fieldsOf = (set: SelectionSetNode, visit: (field: FieldNode) => void, visited = new Set<string>()) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) visit(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) fieldsOf(selection.selectionSet, visit, visited);
      else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !visited.has(name)) {
          visited.add(name);
          const fragmentType = schema.getType(fragment.typeCondition.name.value);
          if (fragmentType && isObjectType(getNamedType(fragmentType))) fieldsOf(fragment.selectionSet, visit, visited);
        }
      }
    }
  };

  let cost = 0;
  fieldsOf(operation.selectionSet, (selection) => {
    if (selection.name.value !== 'dashboard' || !selection.selectionSet) return;
    let buckets: number;
    try {
      const args = getArgumentValues(dashboardField, selection, variables) as {
        range: { from: number; to: number };
        granularity?: Granularity;
      };
      buckets = costOfRange(args.range.from, args.range.to, args.granularity ?? 'HOUR');
    } catch {
      // Arguments that do not coerce fail execution with their own error.
      return;
    }
    const selected = new Set<string>();
    fieldsOf(selection.selectionSet, (field) => {
      const coordinate = `${dashboardType.name}.${field.name.value}`;
      if (fields.has(coordinate)) selected.add(coordinate);
    });
    cost += buckets * selected.size;
  });
  return cost;
}
