/**
 * A stand-in for the FX vendor (a third party we cannot run): a real HTTP server on
 * loopback speaking the Frankfurter format, told how to misbehave, counting calls.
 */
import { createServer, type Server } from 'node:http';

/**
 * How the fake vendor answers: `ok`; `slow` (after `slowMs`); `error500`; `hang` (never);
 * `malformed` (truncated JSON); `missing-currency` (no rates); `negative-rate` (EUR < 0);
 * `wrong-base` (rates for EUR whatever was asked).
 */
export type VendorMode = 'ok' | 'slow' | 'error500' | 'hang' | 'malformed' | 'missing-currency' | 'negative-rate' | 'wrong-base';

/** The running fake vendor; a test changes `mode`, `rates` or `slowMs` between calls. */
export interface FakeVendor {
  /** Base URL to give as FX_API_URL, e.g. `http://127.0.0.1:54321`. */
  url: string;
  /** Calls to /latest so far. */
  calls: number;
  mode: VendorMode;
  /** Rates it answers with in `ok` mode. */
  rates: Record<string, number>;
  /** How long `slow` waits before answering, ms. */
  slowMs: number;
  /** Ends hanging answers and stops the server. */
  close(): Promise<void>;
}

/** Starts the fake vendor on a free port of 127.0.0.1, in `ok` mode with rates for EUR, GBP and JPY; `slowMs` 1500. */
export async function startFakeVendor(): Promise<FakeVendor> {
  const hanging = new Set<import('node:http').ServerResponse>();
  const vendor: FakeVendor = {
    url: '',
    calls: 0,
    mode: 'ok',
    rates: { EUR: 0.9, GBP: 0.8, JPY: 150 },
    slowMs: 1_500,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/latest') {
      res.writeHead(404).end();
      return;
    }
    vendor.calls++;
    const base = url.searchParams.get('from') ?? 'EUR';
    const body = (rates: Record<string, unknown>, b = base) => JSON.stringify({ amount: 1.0, base: b, date: '2026-11-25', rates });
    const send = (status: number, text: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(text);
    switch (vendor.mode) {
      case 'ok':
        return send(200, body(vendor.rates));
      case 'slow':
        setTimeout(() => send(200, body(vendor.rates)), vendor.slowMs);
        return;
      case 'error500':
        return send(500, '{"message":"internal error"}');
      case 'hang':
        hanging.add(res);
        return;
      case 'malformed':
        return send(200, '{"amount":1.0,"base":"USD","rates":{"EUR":');
      case 'missing-currency':
        return send(200, body({}));
      case 'negative-rate':
        return send(200, body({ ...vendor.rates, EUR: -0.9 }));
      case 'wrong-base':
        return send(200, body(vendor.rates, 'EUR'));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  vendor.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  vendor.close = () =>
    new Promise((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return vendor;
}
