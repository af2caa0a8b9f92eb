/**
 * Structured JSON logs (pino). Tokens and secrets never reach a log line: the
 * authorization header and any field named like a secret are redacted.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';

export type { Logger };

/**
 * A JSON logger at `level` that names the service on every line and redacts the
 * authorization header and `token` and `secret` fields (at top level or one deep).
 * Writes to stdout unless given a `destination`.
 */
export function createLogger(level: Config['logLevel'], destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'dashboard-api' },
      redact: {
        paths: ['authorization', 'headers.authorization', 'req.headers.authorization', 'token', '*.token', 'secret', '*.secret'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
