/** The committed generated files must be what `npm run codegen` makes of schema/ (and the page's operations) today. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { generate, loadCodegenConfig } from '@graphql-codegen/cli';
import { beforeAll, expect, it } from 'vitest';

let outputs: Array<{ filename: string; content: string }>;

beforeAll(async () => {
  const { config } = await loadCodegenConfig({ configFilePath: 'codegen.yml' });
  outputs = (await generate({ ...config, cwd: process.cwd(), silent: true }, false)) as typeof outputs;
}, 60_000);

it.each(['src/graphql/resolvers.generated.ts', 'src/web/page/gql/graphql.ts', 'src/web/page/gql/gql.ts', 'src/web/page/gql/index.ts'])(
  '%s is up to date with schema/ (run `npm run codegen` if not)',
  (file) => {
    const output = outputs.find((o) => relative(process.cwd(), o.filename) === file || o.filename === file);
    expect(output, `codegen.yml no longer generates ${file}`).toBeDefined();
    const committed = readFileSync(file, 'utf8');
    expect(committed === output!.content, `${file} is stale: run \`npm run codegen\` and commit the result`).toBe(true);
  },
);
