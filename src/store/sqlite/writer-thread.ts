import { parentPort } from 'node:worker_threads';
import { StoreUnavailableError, type IngestInput } from '../types.js';
import { SqliteStore } from './sqlite-store.js';
import type { FromWriter, ToWriter, WriteCall, WriteResult } from './writer-protocol.js';

/**
 * The SQLite writer thread (see threaded-store.ts): one SqliteStore that does every write of the
 * process, with its group commit and its fsync exactly as on the main thread.
 */
const port = parentPort;
if (!port) throw new Error('writer-thread runs as a worker thread');

let store: SqliteStore | null = null;
let results: WriteResult[] = [];
let commits: Array<[number, number]> = [];
let scheduled = false;

/** Outcomes go back in one message per turn of this loop: a commit settles its writes together. */
function send(result: WriteResult): void {
  results.push(result);
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    const message: FromWriter = { kind: 'results', results, commits };
    results = [];
    commits = [];
    port!.postMessage(message);
  });
}

/** A structured clone turns a Buffer into a plain Uint8Array; the store binds Buffers as blobs. */
function revive(call: WriteCall): unknown[] {
  if (call.method === 'ingest') {
    const input = call.args[0] as IngestInput;
    const raw = input.rawBody as Uint8Array;
    return [{ ...input, rawBody: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength) }];
  }
  return call.args;
}

function run(call: WriteCall): void {
  const s = store;
  if (!s) return send({ id: call.id, ok: false, message: 'the store is not open', unavailable: true });
  let pending: Promise<unknown>;
  try {
    const method = s[call.method] as (...args: unknown[]) => unknown;
    pending = Promise.resolve(method.apply(s, revive(call)));
  } catch (err) {
    pending = Promise.reject(err);
  }
  pending.then(
    (value) => send({ id: call.id, ok: true, value: value ?? null }),
    (err: Error) =>
      send({ id: call.id, ok: false, message: err.message, unavailable: err instanceof StoreUnavailableError }),
  );
}

port.on('message', (m: ToWriter) => {
  if (m.kind === 'open') {
    try {
      store = new SqliteStore({ ...m.options, onCommit: (size, ms) => commits.push([size, ms]) });
      port.postMessage({ kind: 'opened' } satisfies FromWriter);
    } catch (err) {
      port.postMessage({ kind: 'open-failed', message: (err as Error).message } satisfies FromWriter);
    }
  } else if (m.kind === 'calls') {
    for (const call of m.calls) run(call);
  } else {
    void (store?.close() ?? Promise.resolve())
      // One more turn, so the outcomes of the last writes go out before 'closed'.
      .then(() => new Promise((resolve) => setImmediate(resolve)))
      .then(() => {
        store = null;
        port.postMessage({ kind: 'closed' } satisfies FromWriter);
      });
  }
});
