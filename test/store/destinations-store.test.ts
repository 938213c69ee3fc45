import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStore, type NewDestination, type Store } from '../../src/store/index.js';
import { ThreadedSqliteStore } from '../../src/store/drivers.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import {
  migratedUpTo,
  POSTGRES_TEST_URL,
  skipUnavailable,
  testBackends,
  type Backend,
  type TestDatabase,
} from '../helpers/backends.js';
import { ingestInput } from '../helpers/ingest-input.js';
import { docvEvent } from '../helpers/receiver.js';

/** The destinations table of both stores: what ingest reads from it, and what adds and state changes do. */
const backends = await testBackends();

function forward(path: string, fields: Partial<NewDestination> = {}): NewDestination {
  return {
    name: `forward:sink.test${path}`,
    kind: 'forward',
    url: `https://sink.test${path}`,
    signed: false,
    urlCredentials: false,
    ...fields,
  };
}

describe.each(backends)('store: destinations ($name)', (backend: Backend) => {
  if (skipUnavailable(backend)) return;
  const stores: Store[] = [];
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of databases.splice(0)) await d.drop();
  });
  async function fresh(): Promise<TestDatabase> {
    const db = await backend.create();
    databases.push(db);
    return db;
  }
  async function open(url: string, options: Parameters<typeof openStore>[1] = {}): Promise<Store> {
    const store = await openStore(url, options);
    stores.push(store);
    return store;
  }
  async function destinationsOf(store: Store, eventId: string): Promise<string[]> {
    const page = await store.listDeliveries({ limit: 50 });
    return page.items
      .filter((d) => d.eventId === eventId)
      .map((d) => d.destination)
      .sort();
  }
  /** The event ids a worker gets when it claims for one destination. */
  async function claimFor(store: Store, destination: string) {
    return store.claimDeliveries({
      workerId: 'w1',
      limit: 50,
      leaseMs: 60_000,
      destinations: [destination],
      ordered: false,
    });
  }
  async function accept(store: Store, event = docvEvent()): Promise<string> {
    const outcome = await store.ingest(ingestInput(event));
    expect(outcome.kind).toBe('accepted');
    return outcome.eventId;
  }

  it("an accepted event is a delivery of every active destination and of the process's own ones; a disabled one is paused", async () => {
    const store = await open((await fresh()).url);
    store.configureOutbox({ destinations: ['handlers'] });
    expect(await destinationsOf(store, await accept(store))).toEqual(['handlers']);
    await store.addDestination(forward('/a'), 'keep');
    await store.addDestination(forward('/b'), 'keep');
    expect(await destinationsOf(store, await accept(store))).toEqual([
      'forward:sink.test/a',
      'forward:sink.test/b',
      'handlers',
    ]);
    expect(await store.setDestinationState('forward:sink.test/a', 'disabled')).toMatchObject({
      name: 'forward:sink.test/a',
      state: 'disabled',
    });
    // Paused, not dropped: the event is still its delivery, waiting, and no worker takes it.
    const whilePaused = await accept(store);
    expect(await destinationsOf(store, whilePaused)).toEqual([
      'forward:sink.test/a',
      'forward:sink.test/b',
      'handlers',
    ]);
    expect(await claimFor(store, 'forward:sink.test/a')).toEqual([]);
    await store.setDestinationState('forward:sink.test/a', 'active');
    expect(await claimFor(store, 'forward:sink.test/a')).toHaveLength(2);
    expect(await store.setDestinationState('forward:nowhere/', 'disabled')).toBeNull();
  });

  it('the decision fetch, when active, makes a fetch row for the events that call for one', async () => {
    const store = await open((await fresh()).url);
    await store.addDestination(
      {
        name: 'decision-fetch',
        kind: 'decision-fetch',
        url: 'https://sandbox.socure.test/',
        signed: false,
        urlCredentials: false,
      },
      'keep',
    );
    const uploaded = await accept(store, docvEvent({ eventType: 'DOCUMENTS_UPLOADED' }));
    const opened = await accept(store, docvEvent({ eventType: 'APP_OPENED' }));
    expect(await destinationsOf(store, uploaded)).toEqual(['decision-fetch']);
    expect(await destinationsOf(store, opened)).toEqual([]);
  });

  it("another process's add and disable count from the next commit of this one, with no restart", async () => {
    const db = await fresh();
    const receiver = await open(db.url);
    const other = await open(db.url, { migrate: false });
    await accept(receiver);
    await other.addDestination(forward('/late'), 'keep');
    expect(await destinationsOf(receiver, await accept(receiver))).toEqual(['forward:sink.test/late']);
    await other.setDestinationState('forward:sink.test/late', 'disabled');
    const paused = await accept(receiver);
    expect(await claimFor(receiver, 'forward:sink.test/late')).toEqual([]);
    await other.setDestinationState('forward:sink.test/late', 'active');
    expect((await claimFor(receiver, 'forward:sink.test/late')).map((d) => d.eventId)).toContain(paused);
  });

  it('keep adds what is missing and changes nothing else; replace updates the URL and flags but never the state', async () => {
    const store = await open((await fresh()).url);
    const first = await store.addDestination(forward('/x', { url: 'https://sink.test/x?v=1' }), 'keep');
    expect(first).toMatchObject({
      outcome: 'created',
      destination: { state: 'active', url: 'https://sink.test/x?v=1', signed: false },
    });
    await store.setDestinationState('forward:sink.test/x', 'disabled');
    const kept = await store.addDestination(forward('/x', { url: 'https://sink.test/x?v=2', signed: true }), 'keep');
    expect(kept).toMatchObject({
      outcome: 'unchanged',
      destination: { state: 'disabled', url: 'https://sink.test/x?v=1', signed: false },
    });
    const replaced = await store.addDestination(
      forward('/x', { url: 'https://sink.test/x?v=2', signed: true }),
      'replace',
    );
    expect(replaced).toMatchObject({
      outcome: 'updated',
      destination: { state: 'disabled', url: 'https://sink.test/x?v=2', signed: true },
    });
    expect(
      (await store.addDestination(forward('/x', { url: 'https://sink.test/x?v=2', signed: true }), 'replace')).outcome,
    ).toBe('unchanged');
    const [listed] = await store.listDestinations();
    expect(listed).toEqual(replaced.destination);
    expect(Date.parse(listed!.createdAt)).toBeLessThanOrEqual(Date.parse(listed!.updatedAt));
  });

  it('instances that start together and add the same destination end with one row, created by one of them', async () => {
    const db = await fresh();
    const instances = [
      await open(db.url),
      await open(db.url, { migrate: false }),
      await open(db.url, { migrate: false }),
    ];
    const results = await Promise.all(instances.map((s) => s.addDestination(forward('/same'), 'keep')));
    expect(results.map((r) => r.outcome).sort()).toEqual(['created', 'unchanged', 'unchanged']);
    expect(await instances[0]!.listDestinations()).toHaveLength(1);
  });

  it('a database of the previous release gets the table by migration, and its events stay as they were', async () => {
    const db = await fresh();
    const versions = (backend.name === 'sqlite' ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS).map((m) => m.version);
    const added = backend.name === 'sqlite' ? 6 : 7;
    await migratedUpTo(db, added - 1);
    const store = await open(db.url, { migrate: false });
    expect(await store.migrate()).toEqual(versions.filter((v) => v >= added));
    expect(await store.listDestinations()).toEqual([]);
    await store.addDestination(forward('/up'), 'keep');
    expect(await destinationsOf(store, await accept(store))).toEqual(['forward:sink.test/up']);
  });
});

describe('store: destinations on the SQLite writer thread', () => {
  it('adds and changes go through the writer, reads through the reader, and ingest sees them at once', async () => {
    const db = await (await testBackends()).find((b) => b.name === 'sqlite')!.create();
    const store = await ThreadedSqliteStore.open({ path: db.path! });
    try {
      await store.addDestination(forward('/t'), 'keep');
      expect((await store.listDestinations()).map((d) => d.name)).toEqual(['forward:sink.test/t']);
      const outcome = await store.ingest(ingestInput(docvEvent()));
      expect((await store.listDeliveries({ limit: 5 })).items.map((d) => [d.eventId, d.destination])).toEqual([
        [outcome.eventId, 'forward:sink.test/t'],
      ]);
      expect(await store.setDestinationState('forward:sink.test/t', 'disabled')).toMatchObject({ state: 'disabled' });
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

const postgres = backends.find((b) => b.name === 'postgres')!;
describe.skipIf(postgres.skipReason !== null)('store: destinations on PostgreSQL cost ingest nothing', () => {
  it('a flat batch with active destinations is the same four round trips, and its insert plan stays below the JIT threshold', async () => {
    const db = await postgres.create();
    const store = await openStore(db.url);
    try {
      await store.addDestination(forward('/a'), 'keep');
      await store.addDestination(
        {
          name: 'decision-fetch',
          kind: 'decision-fetch',
          url: 'https://socure.test/',
          signed: false,
          urlCredentials: false,
        },
        'keep',
      );
      const spy = vi.spyOn(pg.Client.prototype, 'query');
      let calls: unknown[];
      try {
        await Promise.all(Array.from({ length: 4 }, () => store.ingest(ingestInput(docvEvent()))));
        // Read before mockRestore, which forgets them.
        calls = spy.mock.calls.map(([first]) => first);
      } finally {
        spy.mockRestore();
      }
      const statements = calls.map((first) =>
        typeof first === 'string' ? first : ((first as { name?: string }).name ?? 'unnamed'),
      );
      expect(statements).toEqual(['BEGIN', 'docv_insert_events_v8', 'docv_create_and_lock_v3', 'COMMIT']);

      // A plan priced over jit_above_cost is JIT-compiled on every execution: about 300 ms a commit
      // on this machine. Asked on a connection set up as the store's (sequential scans priced out).
      const insert = calls
        .map((first) => first as { name?: string; text?: string; values?: unknown[] })
        .find((q) => q.name === 'docv_insert_events_v8')!;
      const schema = new URL(db.url).searchParams.get('schema')!;
      const client = new pg.Client({
        connectionString: POSTGRES_TEST_URL,
        options: `-c search_path=${schema} -c enable_seqscan=off`,
      });
      await client.connect();
      try {
        const threshold = Number(
          (await client.query<{ jit_above_cost: string }>('SHOW jit_above_cost')).rows[0]!.jit_above_cost,
        );
        const plan = (
          await client.query<{ 'QUERY PLAN': Array<{ Plan: { 'Total Cost': number } }> }>(
            `EXPLAIN (FORMAT JSON) ${insert.text}`,
            insert.values,
          )
        ).rows[0]!['QUERY PLAN'];
        expect(plan[0]!.Plan['Total Cost']).toBeLessThan(threshold);
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
