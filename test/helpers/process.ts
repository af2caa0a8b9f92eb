/** Runs the real entry points (`npm start`, `npm run token`) as child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');

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
  /**
   * The id of the process that runs the script. tsx runs it in a child of its own and
   * relays SIGTERM and SIGINT to it, but a SIGKILL of tsx would leave the script running:
   * a test that kills a server with -9 kills this process. Throws when it is not running.
   */
  scriptPid(): number;
}

/** The ids of the processes under `pid` (children first, then theirs), read from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last `)`.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * Runs `script` (a path from the current directory, the repository root under vitest)
 * with tsx. The child's environment is PATH, HOME and `env` only, so that nothing of
 * the developer's environment changes what it does.
 */
export function runScript(script: string, args: string[], env: Record<string, string | undefined>): Child {
  const child = spawn(TSX, [script, ...args], {
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
    scriptPid() {
      if (child.pid === undefined || child.exitCode !== null) throw new Error(`${script} is not running`);
      // tsx's child is the node process that runs the script; without tsx in between it is the child itself.
      const [script_] = descendants(child.pid);
      return script_ ?? child.pid;
    },
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
