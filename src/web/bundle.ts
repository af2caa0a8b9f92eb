/**
 * The live page's bundle: src/web/page/ built by esbuild into one script and one
 * stylesheet, in memory, when the page is first asked for. No build step before
 * `npm start` or `npm test`, and nothing fetched at run time (uPlot and graphql-ws
 * come from node_modules, into the bundle).
 *
 * | where           | kept                | valid while                                              |
 * | --------------- | ------------------- | -------------------------------------------------------- |
 * | memory          | the process's life  | production: always; otherwise every input's hash matches |
 * | disk (cacheDir) | across processes    | esbuild's version, the options and every input's hash match |
 *
 * The inputs are those esbuild's metafile names, so a change to any file the bundle
 * was made from (a page source, a package) makes a new one; outside production that is
 * checked on every request for the page, so an edit shows on reload (hashing ~60 files
 * takes milliseconds; building takes a few hundred).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, version as esbuildVersion } from 'esbuild';
import type { Logger } from '../observability/logger.js';

/** The built page. */
export interface PageAssets {
  /** The page's script (ES module). */
  js: string;
  css: string;
  /** A hash of both: part of their URLs, so that a browser may keep them for good. */
  hash: string;
}

/** Gives the current bundle, building it when there is none or its inputs changed. */
export interface PageBundler {
  assets(): Promise<PageAssets>;
}

/** How the bundle is built and kept. */
export interface PageBundlerOptions {
  /** Minified, and built once for the life of the process (no input checks). */
  production: boolean;
  /**
   * Where the bundle is kept across processes; undefined keeps it in memory only.
   * @default node_modules/.cache/dashboard-page
   */
  cacheDir?: string | undefined;
  logger: Logger;
}

/** The repository root: src/web/ is two levels down. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENTRIES = { app: 'src/web/page/main.ts', styles: 'src/web/page/styles.css' } as const;

/** The default `cacheDir`. */
export const DEFAULT_BUNDLE_CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'dashboard-page');

interface Built extends PageAssets {
  /** What the bundle was built with: esbuild's version and the options. */
  key: string;
  /** Every input file (repository-relative) and the sha256 of its content. */
  inputs: Record<string, string>;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** True when every input still has the content it was built from. */
async function inputsMatch(inputs: Readonly<Record<string, string>>): Promise<boolean> {
  const checks = await Promise.all(
    Object.entries(inputs).map(async ([path, hash]) => {
      try {
        return sha256(await readFile(join(ROOT, path))) === hash;
      } catch {
        return false;
      }
    }),
  );
  return checks.length > 0 && checks.every(Boolean);
}

/** A bundler of src/web/page/ (see the top of this file). */
export function createPageBundler(options: PageBundlerOptions): PageBundler {
  const { production, logger } = options;
  const cacheDir = options.cacheDir;
  const key = sha256(JSON.stringify({ esbuildVersion, production, entries: ENTRIES }));
  const cacheFile = cacheDir && join(cacheDir, `bundle-${key.slice(0, 16)}.json`);
  let current: Built | undefined;
  /** One build or check at a time; callers in the meantime share it. */
  let inFlight: Promise<Built> | undefined;

  async function fromDisk(): Promise<Built | undefined> {
    if (!cacheFile) return undefined;
    try {
      const kept = JSON.parse(await readFile(cacheFile, 'utf8')) as Built;
      return kept.key === key && (await inputsMatch(kept.inputs)) ? kept : undefined;
    } catch {
      return undefined;
    }
  }

  async function toDisk(built: Built): Promise<void> {
    if (!cacheFile || !cacheDir) return;
    try {
      await mkdir(cacheDir, { recursive: true });
      // Written aside and renamed: another process reading it never sees half a file.
      const temporary = `${cacheFile}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(built));
      await rename(temporary, cacheFile);
    } catch (error) {
      logger.debug({ err: error, cacheFile }, 'could not keep the page bundle on disk; it is kept in memory');
    }
  }

  async function bundle(): Promise<Built> {
    const started = Date.now();
    const result = await build({
      absWorkingDir: ROOT,
      entryPoints: ENTRIES,
      bundle: true,
      write: false,
      outdir: 'out',
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: production,
      legalComments: production ? 'none' : 'inline',
      // graphql-js reads it to leave out its development checks.
      define: { 'process.env.NODE_ENV': JSON.stringify(production ? 'production' : 'development') },
      metafile: true,
      logLevel: 'silent',
    });
    const text = (name: string) => result.outputFiles.find((f) => f.path.endsWith(name))?.text ?? '';
    const js = text('app.js');
    const css = text('styles.css');
    const inputs: Record<string, string> = {};
    await Promise.all(
      Object.keys(result.metafile.inputs).map(async (path) => {
        inputs[path] = sha256(await readFile(join(ROOT, path)));
      }),
    );
    logger.debug({ ms: Date.now() - started, inputs: Object.keys(inputs).length, bytes: js.length + css.length }, 'page bundle built');
    return { key, inputs, js, css, hash: sha256(js + css).slice(0, 16) };
  }

  async function refresh(): Promise<Built> {
    if (current && (production || (await inputsMatch(current.inputs)))) return current;
    const kept = await fromDisk();
    if (kept) return (current = kept);
    current = await bundle();
    await toDisk(current);
    return current;
  }

  return {
    async assets() {
      inFlight ??= refresh().finally(() => (inFlight = undefined));
      const { js, css, hash } = await inFlight;
      return { js, css, hash };
    },
  };
}
