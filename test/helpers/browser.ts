/**
 * A real headless browser for the page tests: playwright-core driving the Chromium
 * that the `@sparticuz/chromium` npm package ships (unpacked on first use), so that
 * `npm test` needs no browser download and no system browser.
 */
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';

/** Chromium's own background traffic (updates, sync, safe browsing) stays off: this machine has no network beyond loopback. */
const QUIET = ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/**
 * Launches the packaged Chromium, headless, with the package's arguments but
 * `--single-process` (made for AWS Lambda: there, closing one browser context takes
 * the whole browser down, and each test opens its own).
 */
export async function launchBrowser(): Promise<Browser> {
  const args = chromium.args.filter((arg) => arg !== '--single-process');
  return playwright.launch({ executablePath: await chromium.executablePath(), args: [...args, ...QUIET], headless: true });
}

/** A GraphQL request the page made. */
export interface PageRequest {
  /** When it was sent, epoch ms. */
  at: number;
  method: string;
  /** The query text: the `query` parameter of a GET, or of a POST's JSON body. */
  query: string;
  variables: Record<string, any>;
}

/** A page of its own context (locale, zone, size fixed), recording its console errors and GraphQL requests. */
export interface RecordedPage {
  context: BrowserContext;
  page: Page;
  /** Console messages of type error, and uncaught exceptions. */
  errors: string[];
  /** Every request to /graphql, in order. */
  requests: PageRequest[];
  close(): Promise<void>;
}

function graphqlRequest(request: Request): PageRequest | undefined {
  const url = new URL(request.url());
  if (url.pathname !== '/graphql') return undefined;
  if (request.method() === 'GET') {
    return {
      at: Date.now(),
      method: 'GET',
      query: url.searchParams.get('query') ?? '',
      variables: JSON.parse(url.searchParams.get('variables') ?? '{}'),
    };
  }
  const body = request.postDataJSON() as { query?: string; variables?: Record<string, any> } | null;
  return { at: Date.now(), method: request.method(), query: body?.query ?? '', variables: body?.variables ?? {} };
}

/** Opens a recorded page (not yet navigated). */
export async function openPage(browser: Browser): Promise<RecordedPage> {
  // A fixed locale and zone: the headless shell's default locale here (from LANG=C) is not one Intl accepts.
  const context = await browser.newContext({ locale: 'en-GB', timezoneId: 'UTC', viewport: { width: 1360, height: 1000 } });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: PageRequest[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('request', (request) => {
    const recorded = graphqlRequest(request);
    if (recorded) requests.push(recorded);
  });
  return { context, page, errors, requests, close: () => context.close() };
}
