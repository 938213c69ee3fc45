import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../src/compose/config.js';
import { summarizeSource, type SourceSummary } from '../../src/compose/source-summary.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import { dashboardRoutes } from '../../src/server/dashboard/routes.js';
import { openStore, type IngestInput, type Store } from '../../src/store/index.js';
import { skipUnavailable, testBackends, type TestDatabase } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { deliverDue } from '../helpers/outbox.js';

/**
 * Issue 20 on the dashboard: the transactions, events, deliveries and quarantine pages filter by
 * source (a select of the receiver's sources, a text field when the dashboard does not know
 * them), rows name their source, links open the right source's transaction, and an id two
 * sources have opens a page that lets the reader choose.
 */

const backends = await testBackends();

const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const SOURCES: SourceConfig[] = [
  { name: 'sandbox', path: '/hooks/sandbox', auth: { webhookSecrets: ['s-secret-0123456789'] } },
  { name: 'prod', path: '/hooks/prod', auth: { webhookSecrets: ['p-secret-0123456789'] }, environment: 'Production' },
];

function through(source: string, event: Record<string, unknown>): IngestInput {
  const input = ingestInput(event);
  return {
    ...input,
    source,
    dedupeKey: dedupeKeyOf({ eventTime: event.eventTime as string }, input.contentHash, null, source),
  };
}

let counter = 0;
function event(docvTransactionId: string, eventType: string, extra: Record<string, unknown> = {}) {
  counter += 1;
  return {
    eventType,
    docvTransactionId,
    eventTime: new Date(Date.UTC(2026, 2, 1, 9, 0, counter)).toISOString(),
    customerUserId: 'cust-dash',
    ...extra,
  };
}

function decode(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The `data-id`s of a list's rows, in order. */
function rowIds(page: string, list: string): string[] {
  const at = page.indexOf(`data-list="${list}"`);
  if (at < 0) return [];
  const body = page.slice(at, page.indexOf('</table>', at));
  return [...body.matchAll(/<tr data-id="([^"]*)"/g)].map((m) => decode(m[1]!));
}

/** The source labels shown in a list, in row order. */
function labels(page: string, list: string): string[] {
  const at = page.indexOf(`data-list="${list}"`);
  if (at < 0) return [];
  const body = page.slice(at, page.indexOf('</table>', at));
  return [...body.matchAll(/class="source-label" data-source="([^"]*)"/g)].map((m) => m[1]!);
}

/** The options of the source select, and which is selected. */
function sourceSelect(page: string): { options: string[]; selected: string | null } | null {
  const m = /<select id="f-source" name="source">([\s\S]*?)<\/select>/.exec(page);
  if (!m) return null;
  // The first option is the empty one ("any").
  const options = [...m[1]!.matchAll(/<option(?: value="")?( selected)?>([^<]*)<\/option>/g)].slice(1);
  return { options: options.map((o) => o[2]!), selected: options.find((o) => o[1])?.[2] ?? null };
}

describe.each(backends)('dashboard by source ($name)', (backend) => {
  if (skipUnavailable(backend)) return;
  let database: TestDatabase;
  let store: Store;
  /** The dashboard as a receiver with these sources shows it, and as one given no list. */
  let known: FastifyInstance;
  let unknown: FastifyInstance;
  const shared = `tx-dash-shared-${process.pid}`;
  const onlyDefault = `tx-dash-default-${process.pid}`;
  const sourceEvents: Record<string, string[]> = { sandbox: [], prod: [], default: [] };

  async function dashboard(listSources?: () => SourceSummary[]): Promise<FastifyInstance> {
    const app = Fastify({ logger: false });
    await app.register(dashboardRoutes, {
      store,
      reprocess: async () => ({ status: 500, outcome: 'unavailable', body: '{}', headers: {} }) as never,
      listeningOnLoopback: true,
      storeDocumentData: false,
      ...(listSources ? { listSources } : {}),
    });
    await app.ready();
    return app;
  }

  const page = async (app: FastifyInstance, url: string) => {
    const res = await app.inject({ url });
    expect(res.statusCode, `${url}: ${res.body.slice(0, 500)}`).toBeLessThan(500);
    return { status: res.statusCode, headers: res.headers, text: res.body };
  };

  beforeAll(async () => {
    database = await backend.create();
    store = await openStore(database.url);
    await store.addDestination(
      {
        name: 'forward:127.0.0.1:9/dash',
        kind: 'forward',
        url: 'http://127.0.0.1:9/dash',
        signed: false,
        urlCredentials: false,
      },
      'keep',
    );
    const accept = async (source: string, e: Record<string, unknown>) => {
      const outcome = await store.ingest(through(source, e));
      expect(outcome.kind).toBe('accepted');
      sourceEvents[source]!.push((outcome as { eventId: string }).eventId);
    };
    await accept('default', event(onlyDefault, 'APP_OPENED'));
    await accept('sandbox', event(shared, 'APP_OPENED'));
    await accept('prod', event(shared, 'VERIFICATION_COMPLETED', { decision: 'reject' }));
    // Each delivery made once: a replay counts what was tried.
    await deliverDue(store, 'forward:127.0.0.1:9/dash');
    await store.quarantine({
      reason: 'invalid',
      dialect: null,
      status: 422,
      detail: { detail: 'refused at sandbox' },
      headers: {},
      body: Buffer.from('{}'),
      bodySize: 2,
      receivedAt: new Date(),
      source: 'sandbox',
    });
    known = await dashboard(() => SOURCES.map(summarizeSource));
    unknown = await dashboard();
  });

  afterAll(async () => {
    await known?.close();
    await unknown?.close();
    await store?.close();
    await database?.drop();
  });

  it('the transactions page offers the sources in a select and labels every row with its source', async () => {
    const all = await page(known, '/dashboard/transactions');
    expect(all.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(all.text).not.toMatch(/\sstyle=/);
    expect(sourceSelect(all.text)).toEqual({ options: ['sandbox', 'prod'], selected: null });
    expect(rowIds(all.text, 'transactions').sort()).toEqual(
      [onlyDefault, `${shared} @sandbox`, `${shared} @prod`].sort(),
    );
    // Several sources: every row says which, the default one's too, and every link names it.
    expect(labels(all.text, 'transactions').sort()).toEqual(['default', 'prod', 'sandbox']);
    expect(all.text).toContain(`href="/dashboard/transactions/${shared}?source=sandbox"`);
    expect(all.text).toContain(`href="/dashboard/transactions/${shared}?source=prod"`);
    expect(all.text).toContain(`href="/dashboard/transactions/${onlyDefault}?source=default"`);

    const sandbox = await page(known, '/dashboard/transactions?source=sandbox');
    expect(rowIds(sandbox.text, 'transactions')).toEqual([`${shared} @sandbox`]);
    expect(sourceSelect(sandbox.text)?.selected).toBe('sandbox');
    // A source since removed from the configuration stays a choice while the filter names it.
    const removed = await page(known, '/dashboard/transactions?source=retired');
    expect(sourceSelect(removed.text)).toEqual({ options: ['sandbox', 'prod', 'retired'], selected: 'retired' });
    expect(rowIds(removed.text, 'transactions')).toEqual([]);

    const bad = await page(known, '/dashboard/transactions?source=Not%20A%20Source');
    expect(bad.status).toBe(200);
    expect(bad.text).toContain('id="ignored-filters"');
    expect(decode(bad.text)).toContain('source: "Not A Source" is not a source name');
    expect(rowIds(bad.text, 'transactions')).toHaveLength(3);
  });

  it('without a list of sources: a text filter, and only a source other than the default is labelled', async () => {
    const all = await page(unknown, '/dashboard/transactions');
    expect(sourceSelect(all.text)).toBeNull();
    expect(all.text).toMatch(/<input id="f-source" name="source" value=""/);
    expect(labels(all.text, 'transactions').sort()).toEqual(['prod', 'sandbox']);
    // The default source's link stays as before sources existed.
    expect(all.text).toContain(`href="/dashboard/transactions/${onlyDefault}"`);
    const prod = await page(unknown, '/dashboard/transactions?source=prod');
    expect(rowIds(prod.text, 'transactions')).toEqual([`${shared} @prod`]);
    expect(prod.text).toMatch(/<input id="f-source" name="source" value="prod"/);
  });

  it('an id two sources have opens a page to choose between them; ?source= opens that one', async () => {
    const choice = await page(known, `/dashboard/transactions/${shared}`);
    expect(choice.status).toBe(200);
    expect(choice.text).toContain('id="ambiguous-transaction"');
    expect(choice.text).toContain(`href="/dashboard/transactions/${shared}?source=sandbox"`);
    expect(choice.text).toContain(`href="/dashboard/transactions/${shared}?source=prod"`);
    // Without the list of sources too: the choice comes from the store.
    expect((await page(unknown, `/dashboard/transactions/${shared}`)).text).toContain('id="transaction-sources"');

    const prod = await page(known, `/dashboard/transactions/${shared}?source=prod`);
    expect(prod.status).toBe(200);
    expect(prod.text).toMatch(/<dd data-field="source"><span class="source-label" data-source="prod"/);
    expect(prod.text).toMatch(/<dd data-field="decision"><span class="badge reject">/);
    // The live stream and the replay form are of this source's transaction.
    expect(decode(prod.text)).toContain(`data-live="/dashboard/live?transaction=${shared}&source=prod"`);
    expect(prod.text).toContain('<input type="hidden" name="source" value="prod">');
    expect(prod.text).toContain(`action="/dashboard/transactions/${shared}/replay"`);
    // Its deliveries are its own events', not the other source's.
    expect(rowIds(prod.text, 'transaction-deliveries')).toHaveLength(1);

    const sandbox = await page(known, `/dashboard/transactions/${shared}?source=sandbox`);
    expect(sandbox.text).toMatch(/<dd data-field="source"><span class="source-label" data-source="sandbox"/);
    expect(sandbox.text).toContain(`${sourceEvents.sandbox![0]}`);
    expect(sandbox.text).not.toContain(`${sourceEvents.prod![0]}`);

    // An id one source has opens directly; one it does not have under the named source is a 404.
    expect((await page(known, `/dashboard/transactions/${onlyDefault}`)).status).toBe(200);
    const missing = await page(known, `/dashboard/transactions/${onlyDefault}?source=sandbox`);
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('under source sandbox');
  });

  it('the deliveries, events and quarantine pages filter by source and label rows', async () => {
    const deliveries = await page(known, '/dashboard/deliveries?source=prod');
    expect(sourceSelect(deliveries.text)?.selected).toBe('prod');
    expect(labels(deliveries.text, 'deliveries')).toEqual(['prod']);
    const all = await page(known, '/dashboard/deliveries');
    expect(labels(all.text, 'deliveries').sort()).toEqual(['default', 'prod', 'sandbox']);
    // A bulk replay keeps the source filter.
    expect(decode(deliveries.text)).toContain('href="/dashboard/deliveries/replay?source=prod"');
    const confirm = await page(known, '/dashboard/deliveries/replay?source=prod');
    expect(confirm.text).toContain('<input type="hidden" name="source" value="prod">');
    expect(confirm.text).toContain('data-replay-count="1"');
    expect(confirm.text).toContain('source prod');

    const events = await page(known, '/dashboard/events?source=sandbox');
    expect(rowIds(events.text, 'events')).toEqual(sourceEvents.sandbox);
    expect(sourceSelect(events.text)?.selected).toBe('sandbox');

    const quarantine = await page(known, '/dashboard/quarantine?source=sandbox');
    expect(sourceSelect(quarantine.text)?.selected).toBe('sandbox');
    expect(quarantine.text).toContain('class="source-label" data-source="sandbox"');
    expect(quarantine.text).toContain('refused at sandbox');
    expect((await page(known, '/dashboard/quarantine?source=prod')).text).toContain('Nothing in quarantine');
    const reprocess = await page(known, '/dashboard/quarantine/reprocess?source=sandbox');
    expect(reprocess.text).toContain('data-reprocess-count="1"');
    expect(reprocess.text).toContain('<input type="hidden" name="source" value="sandbox">');
  });

  it('the overview lists the sources with links to their filtered lists', async () => {
    const overview = await page(known, '/dashboard');
    expect(overview.text).toContain('href="/dashboard/transactions?source=sandbox"');
    expect(overview.text).toContain('href="/dashboard/quarantine?source=prod"');
    expect(overview.text).toContain('Production');
    expect((await page(unknown, '/dashboard')).text).not.toContain('data-list="sources"');
  });
});
