/**
 * Start-up check of the metric declarations against the schema: every metric field
 * of `Dashboard` has a declaration and every declaration a field; the `MetricName`
 * enum names exactly the declared metrics; every event a declaration names exists;
 * derived metrics are built from declared stored ones. A mismatch stops start-up
 * with a message that says what to fix.
 */
import { isEnumType, isObjectType, type GraphQLSchema } from 'graphql';
import { DOMAIN_EVENTS, METRICS, type MetricDefinition } from './definitions.js';

/** Dashboard fields that are not metrics of their own, and why. */
export const NOT_METRICS: Readonly<Record<string, string>> = {
  'Dashboard.range': 'the effective range, not a metric',
  'Dashboard.granularity': 'an argument echoed back',
  'Dashboard.revenueIn': 'REVENUE converted with an FX rate (cached by the FX client)',
};

export class DeclarationError extends Error {
  override name = 'DeclarationError';
}

/** @throws DeclarationError listing every mismatch found. */
export function checkDeclarations(schema: GraphQLSchema, metrics: Readonly<Record<string, MetricDefinition>> = METRICS): void {
  const problems: string[] = [];
  const declared = Object.values(metrics);

  for (const metric of declared) {
    const [typeName, fieldName] = metric.field.split('.');
    const type = typeName ? schema.getType(typeName) : undefined;
    if (!isObjectType(type) || !fieldName || !type.getFields()[fieldName]) {
      problems.push(`metric ${metric.name} declares field ${metric.field}, which the schema does not have: fix its \`field\` or add the field to schema/`);
    }
    for (const event of metric.events) {
      if (!(DOMAIN_EVENTS as readonly string[]).includes(event)) {
        problems.push(`metric ${metric.name} names event "${event}", which is not a domain event (${DOMAIN_EVENTS.join(', ')})`);
      }
    }
    if (metric.combine === 'derived') {
      for (const input of metric.inputs) {
        const source = metrics[input];
        if (!source || source.combine === 'derived') problems.push(`derived metric ${metric.name} needs ${input}, which is not a declared stored metric`);
      }
    }
  }

  const dashboard = schema.getType('Dashboard');
  if (isObjectType(dashboard)) {
    const fields = new Set(declared.map((m) => m.field));
    for (const name of Object.keys(dashboard.getFields())) {
      const coordinate = `Dashboard.${name}`;
      if (!fields.has(coordinate) && !(coordinate in NOT_METRICS)) {
        problems.push(`schema field ${coordinate} has no metric declaration: declare it in src/metrics/definitions.ts or list it in NOT_METRICS`);
      }
    }
  } else problems.push('the schema has no Dashboard type');

  const enumType = schema.getType('MetricName');
  if (isEnumType(enumType)) {
    const names = new Set(enumType.getValues().map((v) => v.name));
    for (const metric of declared) if (!names.has(metric.name)) problems.push(`metric ${metric.name} is not a value of enum MetricName`);
    for (const name of names) if (!metrics[name]) problems.push(`enum MetricName has ${name}, which has no declaration`);
  } else problems.push('the schema has no MetricName enum');

  if (problems.length) throw new DeclarationError(`metric declarations do not match the schema:\n- ${problems.join('\n- ')}`);
}
