/**
 * The `onExecute` payload our plugins read, with graphql-js's types.
 *
 * envelop declares execute's arguments, and execute itself, over `any`, because it runs
 * over any GraphQL engine; yoga's engine is graphql-js, so these are the types the values
 * have at run time. envelop's payload is assignable to this one (each `any` becomes a
 * graphql-js type, the context value widens to `unknown`), so a hook whose parameter is
 * declared with it still satisfies `Plugin`, with no cast.
 */
import type { ExecutionArgs, ExecutionResult, execute } from 'graphql';

/** graphql-js's `execute`: what `onExecute` wraps and may replace. */
export type ExecuteFn = typeof execute;

/**
 * What yoga passes to a plugin's `onExecute` hook, as far as our plugins use it. The
 * context value stays `unknown`, as in graphql-js; each plugin narrows it to what it reads.
 */
export interface ExecutePayload {
  /** The arguments execution runs with: schema, parsed document, variables, context. */
  args: ExecutionArgs;
  /** The execute function that will run (another plugin's wrapper, or graphql-js's). */
  executeFn: ExecuteFn;
  /** Replaces the execute function, e.g. with one that wraps `executeFn`. */
  setExecuteFn: (execute: ExecuteFn) => void;
  /** Skips execution and answers with `result` instead. */
  setResultAndStopExecution: (result: ExecutionResult) => void;
}
