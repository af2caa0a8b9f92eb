/**
 * A partial refetch: from the typed `DashboardChanged` operation, keep only the fields a
 * notice names, and the variables they still use. The series' points are asked for the
 * changed range only; totals, ratios, the ranking and the conversion over the page's
 * whole range, since a changed bucket changes them. Everything else is left out of the
 * query text itself, not merely skipped with a directive, so the request shows what
 * it asks for.
 */
import { Kind, visit, type DocumentNode, type FieldNode, type OperationDefinitionNode, type SelectionNode } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { isSeries, type PanelField } from './fields.js';
import { DashboardChangedDocument, type DashboardChangedQuery, type DashboardChangedQueryVariables } from './gql/graphql.js';

type Changed = DashboardChangedQuery['changed'];
type Whole = DashboardChangedQuery['dashboard'];

/** What a pruned refetch answers: the fields asked for, each possibly missing when it was left out. */
export interface PartialChanged {
  /** The series' points over the changed range; absent when no series was asked for. */
  changed?: Pick<Changed, 'range'> & Partial<Omit<Changed, 'range'>>;
  dashboard: Pick<Whole, 'range'> & Partial<Omit<Whole, 'range'>>;
}

/** The variables of `DashboardChanged`; a pruned document declares only the ones it uses. */
export type ChangedVariables = DashboardChangedQueryVariables;

/** A pruned document and the variables it declares. */
export interface PartialRefetch {
  document: TypedDocumentNode<PartialChanged, Partial<ChangedVariables>>;
  /** `variables` with only those the document declares. */
  variables: Partial<ChangedVariables>;
}

const fieldName = (selection: SelectionNode) => (selection.kind === Kind.FIELD ? selection.name.value : undefined);
const responseKey = (field: FieldNode) => field.alias?.value ?? field.name.value;

/**
 * `DashboardChanged` with only `fields` (and each dashboard's `range`): the `changed`
 * dashboard keeps the series among them, the whole-range one all of them, and a
 * dashboard left with nothing to ask is dropped. Variable definitions no selection
 * uses any more go too (GraphQL refuses unused ones).
 * @returns undefined when `fields` is empty: nothing to ask.
 */
export function pruneRefetch(fields: ReadonlySet<PanelField>, variables: ChangedVariables): PartialRefetch | undefined {
  if (fields.size === 0) return undefined;
  const operation = DashboardChangedDocument.definitions[0] as OperationDefinitionNode;
  const dashboards = operation.selectionSet.selections.flatMap((selection) => {
    if (selection.kind !== Kind.FIELD || !selection.selectionSet) return [];
    // `changed` carries points only, so only series belong in it.
    const keep = (name: string | undefined) =>
      name !== undefined && fields.has(name as PanelField) && (responseKey(selection) !== 'changed' || isSeries(name as PanelField));
    const selections = selection.selectionSet.selections.filter((s) => keep(fieldName(s)));
    if (selections.length === 0) return [];
    const range = selection.selectionSet.selections.filter((s) => fieldName(s) === 'range');
    return [{ ...selection, selectionSet: { ...selection.selectionSet, selections: [...range, ...selections] } }];
  });
  const used = new Set<string>();
  const pruned = { ...operation, selectionSet: { ...operation.selectionSet, selections: dashboards } };
  visit(pruned.selectionSet, {
    Variable(node) {
      used.add(node.name.value);
    },
  });
  const document: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [{ ...pruned, variableDefinitions: operation.variableDefinitions?.filter((d) => used.has(d.variable.name.value)) }],
  };
  const kept = Object.fromEntries(Object.entries(variables).filter(([name]) => used.has(name))) as Partial<ChangedVariables>;
  return { document: document, variables: kept };
}

/** The field names each dashboard of a query selects, by response key (`changed`, `dashboard`): what a request asks for. */
export function selectedFields(document: DocumentNode): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    for (const selection of definition.selectionSet.selections) {
      if (selection.kind !== Kind.FIELD || selection.name.value !== 'dashboard') continue;
      out[responseKey(selection)] = (selection.selectionSet?.selections ?? []).flatMap((s) => fieldName(s) ?? []);
    }
  }
  return out;
}
