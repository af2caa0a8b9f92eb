/**
 * The child side of a bench server: every entry under bench/servers/ is started by
 * the driver (bench/dashboard.ts, through bench/children.ts) as its own Node
 * process with an IPC channel, listens on 127.0.0.1 port 0, and reports the port it
 * bound over that channel. It stops on SIGTERM, and on its own when the channel
 * closes: a driver that dies, even by SIGKILL, takes its servers with it.
 */
import { parseArgs } from 'node:util';

/** What a started server gives back to `serve`. */
export interface Served {
  port: number;
  close(): Promise<void>;
}

/** The ready message a child sends once it listens. */
export interface ReadyMessage {
  ready: true;
  port: number;
}

/**
 * Flags every bench server takes (the driver passes `--run-dir`, so that a run's
 * leftover processes can be recognised by their command line; see leftovers.ts).
 */
export function serverArgs<T extends Record<string, { type: 'string' | 'boolean' }>>(extra: T) {
  return parseArgs({ options: { 'run-dir': { type: 'string' }, ...extra }, strict: true }).values;
}

/** Starts the server, reports its port to the driver, and stops it when told or when the driver is gone. */
export async function serve(name: string, start: () => Promise<Served>): Promise<void> {
  if (!process.send) throw new Error(`${name}: start it through the bench driver (needs an IPC channel)`);
  let served: Served;
  try {
    served = await start();
  } catch (error) {
    process.stderr.write(`${name} failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    // A server that does not close within 5 s is not worth waiting for: the bench is over.
    const timer = setTimeout(() => process.exit(0), 5_000);
    timer.unref();
    try {
      await served.close();
    } catch (error) {
      process.stderr.write(`${name}: close after ${why} failed: ${String(error)}\n`);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('disconnect', () => void stop('driver gone'));
  process.send({ ready: true, port: served.port } satisfies ReadyMessage);
}
