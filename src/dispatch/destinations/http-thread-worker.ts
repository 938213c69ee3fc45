import { parentPort } from 'node:worker_threads';
import { postNow } from './http-post.js';
import type { FromHttpThread, ToHttpThread } from './http-thread.js';

/** The forward thread (see http-thread.ts): posts what it is sent, answers with the outcome. */
const port = parentPort;
if (!port) throw new Error('http-thread-worker runs as a worker thread');
const inFlight = new Map<number, AbortController>();
port.on('message', (m: ToHttpThread) => {
  if (m.kind === 'abort') {
    inFlight.get(m.id)?.abort();
    return;
  }
  const controller = new AbortController();
  inFlight.set(m.id, controller);
  void postNow(m.post, controller.signal).then((outcome) => {
    inFlight.delete(m.id);
    port.postMessage({ kind: 'outcome', id: m.id, outcome } satisfies FromHttpThread);
  });
});
port.postMessage({ kind: 'ready' } satisfies FromHttpThread);
