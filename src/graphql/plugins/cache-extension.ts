/**
 * Outside production, every response says in `extensions.cache` how each metric's
 * buckets were got (hit, miss, stale), so that GraphiQL shows the cache at work.
 */
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../context.js';

/**
 * Adds `extensions.cache` (per metric: buckets hit, missed, served stale) to every
 * response that has data and read a metric. yoga.ts installs it outside production only.
 */
export function cacheExtensionPlugin(): Plugin<GraphQLContext> {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult, args }) {
          const metrics = (args.contextValue as Partial<GraphQLContext>).metrics;
          if (!metrics || !('data' in result)) return;
          const stats = metrics.cacheStats();
          if (Object.keys(stats).length === 0) return;
          setResult({ ...result, extensions: { ...result.extensions, cache: stats } });
        },
      };
    },
  };
}
