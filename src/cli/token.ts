/**
 * `npm run token -- --tenant acme --role ADMIN [--region EU] [--ttl 12h]`
 * prints a token signed with JWT_SECRET (or the development secret).
 */
import { parseArgs } from 'node:util';
import { signToken } from '../auth/identity.js';
import { loadConfig } from '../config/index.js';
import { DomainError } from '../errors.js';

const USAGE = 'usage: npm run token -- --tenant <id> --role ADMIN|ANALYST|VIEWER [--region EU|NA|APAC] [--ttl 12h]';

async function run(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      role: { type: 'string' },
      region: { type: 'string' },
      subject: { type: 'string' },
      ttl: { type: 'string', default: '12h' },
    },
  });
  if (!values.tenant || !values.role) throw new Error(`--tenant and --role are required\n${USAGE}`);
  const ttl = /^(\d+)(s|m|h|d)$/.exec(values.ttl ?? '');
  if (!ttl) throw new Error(`--ttl must look like 30m, 12h or 7d, got "${values.ttl}"`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ttl[2] as 's' | 'm' | 'h' | 'd'];
  const config = loadConfig();
  if (config.auth.usingDevSecret) process.stderr.write('note: JWT_SECRET is not set; signing with the development secret\n');
  const token = await signToken(
    {
      tenant: values.tenant,
      role: values.role.toUpperCase(),
      region: values.region?.toUpperCase(),
      subject: values.subject,
      ttlMs: Number(ttl[1]) * unit,
    },
    config.auth.jwtSecret,
  );
  process.stdout.write(`${token}\n`);
}

run().catch((error) => {
  process.stderr.write(`${error instanceof DomainError || error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
