/**
 * The layering of STYLE.md, checked: the dependency direction points inward
 * (graphql → metrics → cache), source and events are leaves, resolvers stay thin,
 * and only config/ reads the environment. Every file under src/ is parsed with the
 * TypeScript compiler (static `import … from`, `import '…'`, `export … from`,
 * `import x = require('…')`, dynamic `import('…')` and `import('…')` types), so that
 * moving a dependency the wrong way breaks this test instead of the picture in
 * the README.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/** One import of one file. */
interface Import {
  /** As written: `'../metrics/service.js'`, `'ioredis'`. */
  specifier: string;
  /** The src/-relative path it names, `.js` read as `.ts` (`metrics/service.ts`); undefined for a package or builtin. */
  target: string | undefined;
  /** 1-based line of the import. */
  line: number;
}

/** A file under src/ as this test sees it. */
interface SourceFile {
  /** src/-relative, with forward slashes: `cache/lock.ts`. */
  path: string;
  text: string;
  imports: Import[];
  /** Line and code of every read of the environment (`process.env`, `{ env } = process`, `env` from node:process). */
  envReads: Array<{ line: number; code: string }>;
  /** Lines of dynamic imports whose specifier is not a string literal, which no rule here can check. */
  computedImports: number[];
}

/** Every import and environment read of one file's text; `path` is src/-relative. */
function scan(path: string, text: string): SourceFile {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const file: SourceFile = { path, text, imports: [], envReads: [], computedImports: [] };
  const add = (specifier: ts.Expression | undefined, at: ts.Node) => {
    if (!specifier) return;
    if (!ts.isStringLiteralLike(specifier)) return void file.computedImports.push(lineOf(at));
    file.imports.push({ specifier: specifier.text, target: resolveTarget(path, specifier.text), line: lineOf(at) });
  };
  const isProcess = (node: ts.Expression) =>
    (ts.isIdentifier(node) && node.text === 'process') || (ts.isPropertyAccessExpression(node) && node.name.text === 'process');
  const envRead = (node: ts.Node) => file.envReads.push({ line: lineOf(node), code: node.getText(source).replace(/\s+/g, ' ') });

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node);
      const from = node.moduleSpecifier && ts.isStringLiteralLike(node.moduleSpecifier) ? node.moduleSpecifier.text : undefined;
      const bindings = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : undefined;
      if ((from === 'process' || from === 'node:process') && bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) if ((element.propertyName ?? element.name).text === 'env') envRead(node);
      }
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, node);
    } else if (ts.isPropertyAccessExpression(node) && node.name.text === 'env' && isProcess(node.expression)) {
      envRead(node);
    } else if (
      ts.isElementAccessExpression(node) &&
      isProcess(node.expression) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      node.argumentExpression.text === 'env'
    ) {
      envRead(node);
    } else if (ts.isVariableDeclaration(node) && node.initializer && isProcess(node.initializer) && ts.isObjectBindingPattern(node.name)) {
      for (const element of node.name.elements) {
        const key = element.propertyName ?? element.name;
        if (ts.isIdentifier(key) && key.text === 'env') envRead(node);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return file;
}

/** The src/-relative `.ts` path a relative specifier of `from` names; undefined for packages and builtins. */
function resolveTarget(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const absolute = resolve(SRC, dirname(from), specifier);
  return relative(SRC, absolute).split(sep).join('/').replace(/\.js$/, '.ts');
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return listTs(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const FILES: SourceFile[] = listTs(SRC)
  .map((full) => scan(relative(SRC, full).split(sep).join('/'), readFileSync(full, 'utf8')))
  .sort((a, b) => a.path.localeCompare(b.path));

/** True when the src/-relative `path` is `area` (a file such as `app.ts`) or lies under it (`cache/`). */
const within = (path: string | undefined, area: string) =>
  path !== undefined && (area.endsWith('/') ? path.startsWith(area) : path === area);

/** "src/<file>:<line> imports '<specifier>' (src/<target>)". */
const where = (file: SourceFile, imp: Import) =>
  `src/${file.path}:${imp.line} imports '${imp.specifier}'${imp.target ? ` (src/${imp.target})` : ''}`;

/** Every import of a file in one of `from` that names a file in one of `forbidden`, with `advice` appended. */
function forbiddenImports(from: readonly string[], forbidden: readonly string[], advice: string): string[] {
  return FILES.filter((file) => from.some((area) => within(file.path, area))).flatMap((file) =>
    file.imports.filter((imp) => forbidden.some((area) => within(imp.target, area))).map((imp) => `${where(file, imp)}: ${advice}`),
  );
}

/**
 * Files outside src/config/ that may read the environment, each with why. The
 * entry points in src/cli/, src/observability/ and src/main.ts belong to another
 * engineer; an offender found there is listed here (not fixed in passing) until its
 * owner moves the read into src/config/. None reads it today. An entry that no longer
 * reads it fails the test below, so the list cannot outlive its reasons.
 */
const ENV_EXCEPTIONS: Readonly<Record<string, string>> = {};

/**
 * Words the cache core never uses: it caches families of buckets for any caller and
 * must not learn the dashboard it serves. Case-sensitive, whole words. `REVENUE` is
 * not among them: src/cache/keys.ts uses it in its documented key example, and
 * lowercase "dashboard" appears in prose ("a dashboard's keys share one tenant tag")
 * and in the tracer name `dashboard-api/cache`; "tenant" and "region" are key
 * components the core does know.
 */
const CACHE_FORBIDDEN_WORDS: ReadonlyArray<{ word: RegExp; why: string }> = [
  { word: /\bDashboard\b/, why: 'the GraphQL type the cache serves' },
  { word: /\brevenue\b/, why: 'a Dashboard field' },
  {
    word: /\b(?:ORDERS|SESSIONS|CUSTOMERS|TOP_PRODUCTS|AVERAGE_ORDER_VALUE|CONVERSION_RATE)\b/,
    why: 'a metric of src/metrics/definitions.ts',
  },
  { word: /graphql/i, why: "GraphQL is src/graphql/'s business" },
  { word: /\bprom-client\b/, why: 'the core knows no metrics library (src/cache/observer.ts); it reports through CacheObserver' },
];

describe('architecture: the scanner', () => {
  it('finds every kind of import, with its line, and skips comments and strings', () => {
    const file = scan(
      'events/example.ts',
      [
        "import { a } from '../cache/keys.js';",
        "import type { B } from './types.js';",
        "import './side-effect.js';",
        'import {',
        '  c,',
        "} from 'ioredis';",
        "export { d } from '../metrics/service.js';",
        "export * from 'node:os';",
        "const e = await import('../app.js');",
        "type F = typeof import('../graphql/context.js');",
        "import g = require('../http/server.js');",
        "// import { h } from '../graphql/yoga.js';",
        'const s = "import(\'../main.js\')";',
        'const dynamic = await import(name);',
      ].join('\n'),
    );
    expect(file.imports.map((imp) => [imp.line, imp.specifier, imp.target])).toEqual([
      [1, '../cache/keys.js', 'cache/keys.ts'],
      [2, './types.js', 'events/types.ts'],
      [3, './side-effect.js', 'events/side-effect.ts'],
      [4, 'ioredis', undefined],
      [7, '../metrics/service.js', 'metrics/service.ts'],
      [8, 'node:os', undefined],
      [9, '../app.js', 'app.ts'],
      [10, '../graphql/context.js', 'graphql/context.ts'],
      [11, '../http/server.js', 'http/server.ts'],
    ]);
    expect(file.computedImports).toEqual([14]);
  });

  it('finds reads of the environment, and skips the word in comments and strings', () => {
    const file = scan(
      'cli/example.ts',
      [
        'const a = process.env.PORT;',
        "const b = process['env'];",
        'const { env } = process;',
        'const { env: renamed } = process;',
        "import { env as e2 } from 'node:process';",
        'const c = globalThis.process.env;',
        '// process.env in a comment',
        "const d = 'process.env in a string';",
        'const f = config.env;',
      ].join('\n'),
    );
    expect(file.envReads.map((read) => read.line)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('sees the whole of src/', () => {
    expect(FILES.length).toBeGreaterThan(50);
    for (const area of ['cache/', 'config/', 'events/', 'graphql/resolvers/', 'metrics/', 'source/', 'web/', 'web/page/']) {
      expect(
        FILES.some((file) => within(file.path, area)),
        area,
      ).toBe(true);
    }
  });

  it('resolves every relative import to a file it has read, so that no rule misses an import by its path', () => {
    const seen = new Set(FILES.map((file) => file.path));
    const unresolved = FILES.flatMap((file) =>
      file.imports.filter((imp) => imp.target !== undefined && !seen.has(imp.target)).map((imp) => where(file, imp)),
    );
    expect(unresolved).toEqual([]);
  });
});

describe('architecture: the dependency direction', () => {
  it('src/cache/ imports only src/cache/, npm packages and node: builtins', () => {
    const found = FILES.filter((file) => within(file.path, 'cache/')).flatMap((file) =>
      file.imports
        .filter((imp) => imp.target !== undefined && !within(imp.target, 'cache/'))
        .map(
          (imp) =>
            `${where(file, imp)}: the cache core imports only src/cache/. Move what it needs into src/cache/, ` +
            'or have the caller pass it in (an option, a BucketSpec, a CacheObserver).',
        ),
    );
    expect(found).toEqual([]);
  });

  it('src/source/ and src/events/ import neither src/metrics/, src/graphql/, src/http/, src/app.ts nor src/main.ts', () => {
    // Both may import src/cache/buckets.ts (bucket arithmetic) today; these rules allow it.
    const found = forbiddenImports(
      ['source/', 'events/'],
      ['metrics/', 'graphql/', 'http/', 'app.ts', 'main.ts'],
      'source and events are leaves. Move the shared type or function down into src/source/, src/events/ or ' +
        'src/domain/, or let the outer layer pass it in.',
    );
    expect(found).toEqual([]);
  });

  it('src/graphql/resolvers/ do not import src/cache/', () => {
    const found = forbiddenImports(
      ['graphql/resolvers/'],
      ['cache/'],
      'resolvers stay thin and call the metrics service (src/metrics/service.ts), which owns the cache; ' +
        'add what the resolver needs to that service instead.',
    );
    expect(found).toEqual([]);
  });

  it('src/web/page/ (the browser bundle) imports only src/web/page/ and browser packages: no node: builtin, no server module', () => {
    const found = FILES.filter((file) => within(file.path, 'web/page/')).flatMap((file) =>
      file.imports
        .filter((imp) =>
          imp.target !== undefined ? !within(imp.target, 'web/page/') : /^node:|^(fs|path|http|crypto|os|url)$/.test(imp.specifier),
        )
        .map(
          (imp) =>
            `${where(file, imp)}: the page runs in a browser, bundled from src/web/page/ alone. Ask the API for what it ` +
            'needs, or have the server put it in the page settings (src/web/page/settings.ts).',
        ),
    );
    expect(found).toEqual([]);
  });

  it('only src/web/ imports src/web/page/, and then only the settings type it serves the page', () => {
    const found = FILES.filter((file) => !within(file.path, 'web/page/')).flatMap((file) =>
      file.imports
        .filter((imp) => within(imp.target, 'web/page/') && !(within(file.path, 'web/') && imp.target === 'web/page/settings.ts'))
        .map(
          (imp) =>
            `${where(file, imp)}: browser code is bundled for the page, not run on the server; share a type through src/web/page/settings.ts.`,
        ),
    );
    expect(found).toEqual([]);
  });

  it('nothing but the server composition imports src/web/', () => {
    const found = forbiddenImports(
      FILES.map((file) => file.path).filter((path) => !within(path, 'web/') && path !== 'compose/server.ts'),
      ['web/'],
      'the live page is an outer layer beside src/http/: only src/compose/server.ts mounts its routes.',
    );
    expect(found).toEqual([]);
  });

  it('every dynamic import names its module literally, so that these rules can check it', () => {
    const found = FILES.flatMap((file) =>
      file.computedImports.map((line) => `src/${file.path}:${line} imports a computed specifier: write the path as a string literal.`),
    );
    expect(found).toEqual([]);
  });
});

describe('architecture: configuration', () => {
  const readers = FILES.filter((file) => !within(file.path, 'config/') && file.envReads.length > 0);

  it('nothing outside src/config/ reads process.env', () => {
    const found = readers
      .filter((file) => !(file.path in ENV_EXCEPTIONS))
      .flatMap((file) =>
        file.envReads.map(
          (read) =>
            `src/${file.path}:${read.line} reads the environment (${read.code}): add the setting to the Config of ` +
            'src/config/index.ts (parsed and validated once) and take it from the config passed in.',
        ),
      );
    expect(found).toEqual([]);
  });

  it('lists as an exception only files that still read process.env', () => {
    const stale = Object.keys(ENV_EXCEPTIONS).filter((path) => !readers.some((file) => file.path === path));
    expect(stale.map((path) => `ENV_EXCEPTIONS lists src/${path}, which no longer reads process.env: remove it from the list.`)).toEqual(
      [],
    );
  });
});

describe('architecture: the cache core knows nothing of dashboards', () => {
  it('no file in src/cache/ uses a dashboard or metric-domain word', () => {
    const found = FILES.filter((file) => within(file.path, 'cache/')).flatMap((file) =>
      file.text
        .split('\n')
        .flatMap((text, i) =>
          CACHE_FORBIDDEN_WORDS.filter(({ word }) => word.test(text)).map(
            ({ word, why }) =>
              `src/${file.path}:${i + 1} mentions ${word} (${why}): ${text.trim()}\n` +
              '  The core is generic: name the thing by its role (metric, spec, family of buckets), and keep the domain in src/metrics/.',
          ),
        ),
    );
    expect(found).toEqual([]);
  });
});
