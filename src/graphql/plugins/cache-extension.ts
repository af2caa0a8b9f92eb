/**
 * Every response says in `extensions.cache` how each metric's buckets were got (hit,
 * miss, stale), so that GraphiQL and the live page at `/` show the cache at work.
 * Outside production always; in production only when PAGE_CACHE_DETAILS allows it,
 * and then never to a VIEWER.
 */
import type { Plugin } from 'graphql-yoga';
import type { Role } from '../../auth/identity.js';
import type { GraphQLContext } from '../context.js';

/** Who gets `extensions.cache`. */
export interface CacheExtensionOptions {
  /** Roles whose responses carry it. @default every role */
  roles?: readonly Role[] | undefined;
}

/**
 * Adds `extensions.cache` (per metric: buckets hit, missed, served stale) to every
 * response that has data and read a metric, for callers of `options.roles`. yoga.ts
 * installs it outside production, and in production when PAGE_CACHE_DETAILS is set.
 */
export function cacheExtensionPlugin(options: CacheExtensionOptions = {}): Plugin<GraphQLContext> {
  const { roles } = options;
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult, args }) {
          const { metrics, identity } = args.contextValue as Partial<GraphQLContext>;
          if (!metrics || !('data' in result)) return;
          if (roles && (!identity || !roles.includes(identity.role))) return;
          const stats = metrics.cacheStats();
          if (Object.keys(stats).length === 0) return;
          setResult({ ...result, extensions: { ...result.extensions, cache: stats } });
        },
      };
    },
  };
}
