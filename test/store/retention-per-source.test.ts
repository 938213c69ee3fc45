import { describe, expect, it } from 'vitest';
import { defaultReceiverConfig } from '../../src/compose/config.js';
import {
  registerReloadedDestinations,
  syncConfiguredDestinations,
} from '../../src/compose/destination-registration.js';
import { dedupeKeyOf } from '../../src/ingest/dedupe-key.js';
import { retentionScopes, runRetention } from '../../src/store/retention.js';
import { parseRetentionPolicy } from '../../src/store/retention-policy.js';
import type { Store } from '../../src/store/index.js';
import { scratchStores, skipUnavailable, testBackends, type Backend } from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';
import { memoryLogger } from '../security/helpers.js';

/**
 * Issue 20: each source keeps its data as long as its own policy says (the receiver-wide one
 * covers the rest), and the config file's destinations reach the store with their subscriptions,
 * on both backends, with a fake clock.
 */
const backends = await testBackends();

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

describe.each(backends)('retention per source and configured destinations ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const open = scratchStores(backend);

  async function accept(store: Store, source: string, tx: string, receivedAt: Date, fields = {}): Promise<string> {
    const input = ingestInput(docvEvent({ docvTransactionId: tx, ...fields }));
    const outcome = await store.ingest({
      ...input,
      dedupeKey: dedupeKeyOf(input.event, input.contentHash, null, source),
      receivedAt,
      source,
    });
    expect(outcome.kind).toBe('accepted');
    return outcome.eventId;
  }

  /** One finished transaction under `source`: opened, then completed. */
  async function finished(store: Store, source: string, tx: string, receivedAt: Date): Promise<string[]> {
    return [
      await accept(store, source, tx, receivedAt, { eventType: 'APP_OPENED' }),
      await accept(store, source, tx, new Date(receivedAt.getTime() + 1000), {
        eventType: 'VERIFICATION_COMPLETED',
        decision: 'accept',
        eventTime: '2026-01-01T00:00:01Z',
      }),
    ];
  }

  it("applies each source's own policy, and the receiver-wide one to every other source", async () => {
    const { store } = await open();
    // The same transaction id under three sources: three transactions, each aged by its own source's policy.
    const [sandboxOpened] = await finished(store, 'sandbox', 'tx-1', at(0));
    const [prodOpened] = await finished(store, 'prod', 'tx-1', at(0));
    const [legacyOpened] = await finished(store, 'default', 'tx-1', at(0));
    const scopes = retentionScopes(parseRetentionPolicy('raw=30d,events=400d'), [
      { name: 'sandbox', retention: parseRetentionPolicy('raw=1d,events=7d') },
      { name: 'prod', retention: parseRetentionPolicy('off') },
      { name: 'eu' },
    ]);

    // Ten days on: only the sandbox's transaction is past its events=7d.
    let report = await runRetention(store, scopes, { now: () => at(10 * DAY) });
    expect(report.events).toBe(2);
    expect(await store.getTransaction('tx-1', 'sandbox')).toBeNull();
    expect((await store.getTombstone('tx-1', 'sandbox'))?.reason).toBe('retention');
    expect(await store.getTransaction('tx-1', 'prod')).not.toBeNull();
    expect(await store.getTransaction('tx-1', 'default')).not.toBeNull();
    expect(await store.getEvent(sandboxOpened!)).toBeNull();
    expect((await store.getEvent(legacyOpened!))?.removedByRetention).toBeUndefined();

    // Forty days on: the receiver-wide raw=30d empties the default source's bodies; prod (off) keeps everything.
    report = await runRetention(store, scopes, { now: () => at(40 * DAY) });
    expect(report.raw).toBe(2);
    expect((await store.getEvent(legacyOpened!))?.removedByRetention).toBeDefined();
    const prod = await store.getEvent(prodOpened!);
    expect(prod?.removedByRetention).toBeUndefined();
    expect(prod?.payload).toMatchObject({ docvTransactionId: 'tx-1', eventType: 'APP_OPENED' });

    // Far on: the default source's transaction goes (events=400d); prod's stays, its policy being off.
    await runRetention(store, scopes, { now: () => at(500 * DAY) });
    expect(await store.getTransaction('tx-1', 'default')).toBeNull();
    expect(await store.getTransaction('tx-1')).toMatchObject({ docvTransactionId: 'tx-1', source: 'prod' });
  });

  it("writes the config file's destinations with their subscriptions, and disables one the file no longer declares", async () => {
    const { store } = await open();
    const { logger } = memoryLogger();
    const base = defaultReceiverConfig();
    const first = {
      ...base,
      destinations: [
        { url: 'https://crm.example/hooks', sources: ['prod'], eventTypes: ['VERIFICATION_COMPLETED'] },
        { url: 'https://audit.example/all' },
      ],
    };
    let report = await syncConfiguredDestinations(store, first, undefined, logger);
    expect(report.added.sort()).toEqual(['forward:audit.example/all', 'forward:crm.example/hooks']);
    const byName = async () => new Map((await store.listDestinations()).map((d) => [d.name, d]));
    expect((await byName()).get('forward:crm.example/hooks')).toMatchObject({
      state: 'active',
      subscription: { sources: ['prod'], eventTypes: ['VERIFICATION_COMPLETED'] },
    });
    expect((await byName()).get('forward:audit.example/all')?.subscription).toBeNull();

    // Reloaded: the CRM now takes uploads too; the audit forward is gone from the file.
    const second = {
      ...base,
      destinations: [
        {
          url: 'https://crm.example/hooks',
          sources: ['prod'],
          eventTypes: ['VERIFICATION_COMPLETED', 'DOCUMENTS_UPLOADED'],
        },
      ],
    };
    report = await syncConfiguredDestinations(store, second, first, logger);
    expect(report).toEqual({
      added: [],
      updated: ['forward:crm.example/hooks'],
      disabled: ['forward:audit.example/all'],
    });
    expect((await byName()).get('forward:crm.example/hooks')?.subscription?.eventTypes).toEqual([
      'VERIFICATION_COMPLETED',
      'DOCUMENTS_UPLOADED',
    ]);
    expect((await byName()).get('forward:audit.example/all')?.state).toBe('disabled');

    // A source given Socure credentials of its own by a reload brings the decision fetch into the
    // store (the flags, which register it at start, had none).
    expect((await byName()).has('decision-fetch')).toBe(false);
    const withFetch = {
      ...second,
      sources: [
        {
          name: 'prod',
          path: '/prod',
          auth: {},
          socure: { baseUrl: 'https://sandbox.socure.example', apiKey: 'key' },
        },
      ],
    };
    await registerReloadedDestinations(withFetch, second, store, logger);
    expect((await byName()).get('decision-fetch')).toMatchObject({
      kind: 'decision-fetch',
      url: 'https://sandbox.socure.example/',
      state: 'active',
    });

    // The same file again changes nothing.
    report = await syncConfiguredDestinations(store, second, second, logger);
    expect(report).toEqual({ added: [], updated: [], disabled: [] });
  });
});
