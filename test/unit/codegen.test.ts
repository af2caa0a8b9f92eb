/** The committed resolver types must be what `npm run codegen` makes of schema/ today. */
import { readFileSync } from 'node:fs';
import { generate, loadCodegenConfig } from '@graphql-codegen/cli';
import { expect, it } from 'vitest';

it('src/graphql/resolvers.generated.ts is up to date with schema/ (run `npm run codegen` if not)', async () => {
  const { config } = await loadCodegenConfig({ configFilePath: 'codegen.yml' });
  const outputs = (await generate({ ...config, cwd: process.cwd(), silent: true }, false)) as Array<{
    filename: string;
    content: string;
  }>;
  const output = outputs.find((o) => o.filename.endsWith('src/graphql/resolvers.generated.ts'));
  expect(output, 'codegen.yml no longer generates src/graphql/resolvers.generated.ts').toBeDefined();
  const committed = readFileSync('src/graphql/resolvers.generated.ts', 'utf8');
  expect(committed === output!.content, 'the generated resolver types are stale: run `npm run codegen` and commit the result').toBe(true);
});
