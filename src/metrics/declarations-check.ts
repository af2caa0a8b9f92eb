/**
 * Start-up check of the metric declarations against the schema: every metric field
 * of `Dashboard` has a declaration and every declaration a field; the `MetricName`
 * enum names exactly the declared metrics; every event a declaration names exists;
 * derived metrics are built from declared stored ones. A mismatch stops start-up
 * with a message that says what to fix.
 */
import { isEnumType, isObjectType, type GraphQLSchema } from 'graphql';
import { DASHBOARD_REGISTRY, DeclarationError, type MetricRegistry } from './registry.js';

export { DeclarationError };

/** Dashboard fields that are not metrics of their own, and why. */
export const NOT_METRICS: Readonly<Record<string, string>> = {
  'Dashboard.range': 'the effective range, not a metric',
  'Dashboard.granularity': 'an argument echoed back',
  'Dashboard.revenueIn': 'REVENUE converted with an FX rate (cached by the FX client)',
};

/** True when the schema has the field at `coordinate` (`Type.field`). */
function hasField(schema: GraphQLSchema, coordinate: string): boolean {
  const [typeName, fieldName] = coordinate.split('.');
  const type = typeName ? schema.getType(typeName) : undefined;
  return isObjectType(type) && !!fieldName && !!type.getFields()[fieldName];
}

/**
 * @param registry the declarations, already consistent among themselves (createMetricRegistry checked that).
 * @throws DeclarationError listing every mismatch with the schema.
 */
export function checkDeclarations(schema: GraphQLSchema, registry: MetricRegistry = DASHBOARD_REGISTRY): void {
  const problems: string[] = [];

  for (const metric of registry.all) {
    if (!hasField(schema, metric.field)) {
      problems.push(
        `metric ${metric.name} declares field ${metric.field}, which the schema does not have: fix its \`field\` or add the field to schema/`,
      );
    }
    for (const field of metric.alsoShownIn ?? []) {
      if (!hasField(schema, field)) problems.push(`metric ${metric.name} names alsoShownIn ${field}, which the schema does not have`);
    }
  }

  const dashboard = schema.getType('Dashboard');
  if (isObjectType(dashboard)) {
    const fields = new Set(registry.all.map((m) => m.field));
    for (const name of Object.keys(dashboard.getFields())) {
      const coordinate = `Dashboard.${name}`;
      if (!fields.has(coordinate) && !(coordinate in NOT_METRICS)) {
        problems.push(
          `schema field ${coordinate} has no metric declaration: declare it in src/metrics/definitions.ts or list it in NOT_METRICS`,
        );
      }
    }
  } else problems.push('the schema has no Dashboard type');

  const enumType = schema.getType('MetricName');
  if (isEnumType(enumType)) {
    const names = new Set(enumType.getValues().map((v) => v.name));
    for (const metric of registry.all)
      if (!names.has(metric.name)) problems.push(`metric ${metric.name} is not a value of enum MetricName`);
    for (const name of names) if (!registry.get(name)) problems.push(`enum MetricName has ${name}, which has no declaration`);
  } else problems.push('the schema has no MetricName enum');

  if (problems.length) throw new DeclarationError(`metric declarations do not match the schema:\n- ${problems.join('\n- ')}`);
}
