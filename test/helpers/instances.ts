/** Several real server processes (`src/main.ts`) sharing one database and one Redis. */
import { TEST_SECRET } from './app.js';
import { runScript, type Child } from './process.js';
import { freePort } from './services.js';

/** One server process and its base URL. */
export interface Instance {
  child: Child;
  url: string;
}

/** The servers `startInstances` started, in start order. */
export interface Instances {
  servers: Instance[];
  /** SIGTERM to each, waiting for it to exit. */
  stop(): Promise<void>;
}

/** Starts `count` servers and resolves once every one is listening. */
export async function startInstances(
  count: number,
  env: { DATABASE_URL: string; REDIS_URL: string } & Record<string, string>,
): Promise<Instances> {
  const servers: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const child = runScript('src/main.ts', [], {
      PORT: String(port),
      JWT_SECRET: TEST_SECRET,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      ...env,
    });
    servers.push({ child, url: `http://127.0.0.1:${port}` });
  }
  const stop = async () => {
    for (const s of servers) {
      s.child.kill('SIGTERM');
      await s.child.exited;
    }
  };
  try {
    await Promise.all(servers.map((s) => s.child.waitFor(/GraphiQL: http/, 60_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { servers, stop };
}
