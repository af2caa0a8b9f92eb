/**
 * Query limits (CONTRACT.md): depth, aliases and tokens through graphql-armor,
 * and a cost limit counted in buckets, refused before execution.
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
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { getArgumentValues } from 'graphql/execution/values.js';
import type { Plugin } from 'graphql-yoga';
import type { Granularity } from '../../cache/buckets.js';
import type { QueryLimits } from '../../config/index.js';
import { costOfRange } from '../../domain/validation.js';
import { QUERY_TOO_COMPLEX } from '../errors.js';
import type { ExecutePayload } from './execute-payload.js';

// Armor's errors carry no code; give them the one every limit refusal has.
const tagLimit = [
  (_: unknown, error: GraphQLError) => {
    (error.extensions as Record<string, unknown>).code = QUERY_TOO_COMPLEX;
  },
];

/** The plugins enforcing `limits`. */
export function queryLimitPlugins(limits: QueryLimits): Plugin[] {
  return [
    maxTokensPlugin({ n: limits.maxTokens, onReject: tagLimit }),
    maxDepthPlugin({ n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true, onReject: tagLimit }),
    maxAliasesPlugin({ n: limits.maxAliases, onReject: tagLimit }),
    costLimitPlugin(limits.maxCostBuckets),
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
 * Sums the buckets every `Query.dashboard` field of the operation would read,
 * with the request's variables, and refuses the request above `maxBuckets`. A
 * field whose range the resolver would refuse anyway costs nothing here, so
 * that it gets its own BAD_USER_INPUT rather than a cost error.
 */
export function costLimitPlugin(maxBuckets: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }: ExecutePayload) {
      const cost = dashboardCost(args.schema, args.document, args.operationName ?? undefined, coerced(args));
      if (cost > maxBuckets) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(
              `This request would read ${cost} buckets; the limit is ${maxBuckets}. Ask for shorter ranges, DAY granularity, or fewer dashboards per request.`,
              { extensions: { code: QUERY_TOO_COMPLEX, cost, limit: maxBuckets } },
            ),
          ],
        });
      }
    },
  };
}

/** Buckets read by every `dashboard` field of the chosen operation. */
export function dashboardCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
): number {
  const operation = getOperationAST(document, operationName);
  const queryType = schema.getQueryType();
  if (!operation || operation.operation !== OperationTypeNode.QUERY || !queryType) return 0;
  const dashboardField = queryType.getFields().dashboard;
  if (!dashboardField) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

  let cost = 0;
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode, type: GraphQLObjectType) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (type === queryType && selection.name.value === 'dashboard') {
          try {
            const args = getArgumentValues(dashboardField, selection, variables) as {
              range: { from: number; to: number };
              granularity?: Granularity;
            };
            cost += costOfRange(args.range.from, args.range.to, args.granularity ?? 'HOUR');
          } catch {
            // Arguments that do not coerce fail execution with their own error.
          }
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, type);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !visited.has(name)) {
          visited.add(name);
          const fragmentType = schema.getType(fragment.typeCondition.name.value);
          if (fragmentType && isObjectType(getNamedType(fragmentType))) walk(fragment.selectionSet, type);
        }
      }
    }
  };
  walk(operation.selectionSet, queryType);
  return cost;
}
