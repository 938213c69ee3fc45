import { canonicalOfFlat, contentKey, type DocvEvent } from '../src/contract/index.js';
import { dedupeKeyOf } from '../src/ingest/dedupe-key.js';
import { openStore, parseEncryptionKey } from '../src/store/index.js';
import { createPayloads } from './payloads.js';

/**
 * Fills a store with `events` fresh events through its own `ingest` (not over HTTP): the scale
 * section needs a million stored events, not a million requests. Same rows a delivery writes:
 * event, lifecycle, and one outbox row for the forward destination.
 * Usage: node --import tsx bench/fill-store.ts <database-url> <events> <run-id> <destination>
 * With DOCV_ENCRYPTION_KEY set (base64 of 32 bytes), rows are sealed as `serve --encryption-key` does.
 * Prints one JSON line: { events, seconds }.
 */
const [url, countText, runId, destination] = process.argv.slice(2);
if (!url || !countText || !runId || !destination)
  throw new Error('usage: fill-store.ts <database-url> <events> <run-id> <destination>');
const total = Number(countText);
const BATCH = 4_000;

const key = process.env.DOCV_ENCRYPTION_KEY;
const store = await openStore(
  url,
  key ? { encryption: { current: parseEncryptionKey(key, 'DOCV_ENCRYPTION_KEY'), previous: [] } } : {},
);
store.configureOutbox({ destinations: [destination], fetchDecisions: false });
const payloads = createPayloads({ runId, duplicateShare: 0 });
const headers = { host: '127.0.0.1', 'content-type': 'application/json', 'user-agent': 'docv-bench' };
const started = performance.now();
let done = 0;
let lastReport = started;
try {
  while (done < total) {
    const n = Math.min(BATCH, total - done);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const rawBody = payloads.next();
      const flat = JSON.parse(rawBody.toString('utf8')) as DocvEvent;
      const contentHash = contentKey(flat);
      const event = canonicalOfFlat(flat);
      writes.push(
        store.ingest({
          dedupeKey: dedupeKeyOf(event, contentHash, null),
          webhookId: null,
          contentHash,
          event,
          rawBody,
          headers: { ...headers, 'content-length': String(rawBody.length) },
          receivedAt: new Date(),
        }),
      );
    }
    const results = (await Promise.all(writes)) as Array<{ kind: string }>;
    const notAccepted = results.filter((r) => r.kind !== 'accepted').length;
    if (notAccepted > 0) throw new Error(`${notAccepted} of a batch were not accepted`);
    done += n;
    const now = performance.now();
    if (now - lastReport > 5_000) {
      lastReport = now;
      process.stderr.write(`filled ${done}/${total} (${Math.round(done / ((now - started) / 1000))}/s)\n`);
    }
  }
} finally {
  await store.close();
}
process.stdout.write(`${JSON.stringify({ events: done, seconds: (performance.now() - started) / 1000 })}\n`);
