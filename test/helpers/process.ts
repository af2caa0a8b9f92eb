/** Runs the real entry points (`npm start`, `npm run token`) as child processes. */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * tsx as a loader of this node process (`npm start` does the same), not the tsx CLI: the
 * CLI runs the script in a child of its own and relays signals to it, and when that child
 * does not confirm a SIGTERM within about 60 ms (an event loop busy under load) it sends
 * SIGKILL instead. A signal to the child here reaches the script's own process.
 */
const TSX_LOADER = ['--import', 'tsx'];

/** A child process with its output kept, to wait on what it prints. */
export interface Child {
  /** The Node child process itself. */
  process: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves once the output matches, rejects on exit or after `timeoutMs`. @default timeoutMs 60000 */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Sends `signal` to the child. @default 'SIGTERM' */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Runs `script` (a path from the current directory, the repository root under vitest)
 * with node and the tsx loader, in one process. The child's environment is PATH, HOME and `env` only, so that nothing of
 * the developer's environment changes what it does.
 */
export function runScript(script: string, args: string[], env: Record<string, string | undefined>): Child {
  const child = spawn(process.execPath, [...TSX_LOADER, script, ...args], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      for (const w of waiters) w();
      resolve(code);
    }),
  );
  return {
    process: child,
    output: () => output,
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (match) return done(() => resolve(match));
          if (child.exitCode !== null) return done(() => reject(new Error(`exited (${child.exitCode}) before ${pattern}:\n${output}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
  };
}
