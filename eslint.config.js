// @ts-check
/**
 * ESLint for the whole tree: eslint's and typescript-eslint's recommended rules,
 * type-checked, plus STYLE.md's "JSDoc on every exported symbol" as an error (bar the
 * temporary override at the end). Formatting is Prettier's (.prettierrc.yaml), so no
 * stylistic rule is on here. `npm run lint` runs both, and CI (.ci/run) runs it.
 */
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import jsdoc from 'eslint-plugin-jsdoc';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'node_modules/',
      'coverage/',
      'data/',
      'scratch/',
      // Written by graphql-codegen (codegen.yml); never edited by hand.
      'src/graphql/*.generated.ts',
      'src/web/page/gql/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // The type information of tsconfig.json, found per file by the project service.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      // Off: an `async` method implementing a Promise-returning interface (CacheStore, NoticeBus…) makes a throw a rejection; 22 hits, all that.
      '@typescript-eslint/require-await': 'off',
      // Off: interfaces are implemented by closures, not classes (STYLE.md), so no method relies on `this`; its 3 hits are all such.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Off in tests: they read untyped JSON (`await res.json()`) and let `expect` check its shape; ~430 hits, none a bug.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (this file, bench/*.cjs) is outside tsconfig.json: no type information.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  {
    // autocannon loads bench/*.cjs with require() in its worker threads.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    plugins: { jsdoc },
    rules: {
      // STYLE.md: JSDoc on every exported symbol.
      'jsdoc/require-jsdoc': [
        'error',
        {
          // Only what a module exports. (`publicOnly` alone is not enough: with `contexts`
          // it also asks for a comment on every local const inside an exported function.)
          publicOnly: true,
          // `--fix` would insert empty /** */ blocks, which are worse than none.
          enableFixer: false,
          require: { FunctionDeclaration: false },
          contexts: [
            'ExportNamedDeclaration > FunctionDeclaration',
            'ExportDefaultDeclaration > FunctionDeclaration',
            'ExportNamedDeclaration > ClassDeclaration',
            'ExportDefaultDeclaration > ClassDeclaration',
            'ExportNamedDeclaration > TSInterfaceDeclaration',
            'ExportNamedDeclaration > TSTypeAliasDeclaration',
            'ExportNamedDeclaration > TSEnumDeclaration',
            // Exported consts, those holding a function included.
            'ExportNamedDeclaration > VariableDeclaration',
          ],
        },
      ],
    },
  },
  {
    // TEMPORARY: bench/ is being rewritten; its JSDoc comes with the rewrite, and this
    // override goes then.
    files: ['bench/**'],
    rules: { 'jsdoc/require-jsdoc': 'warn' },
  },
);
