import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { postNow } from './http-post.js';
import type { FromHttpThread, ToHttpThread } from './http-thread.js';

/** The forward thread (see http-thread.ts): posts what it is sent, answers with the outcome. */
/** CFS weight 110 against 1,024 for the other threads: about a tenth of a contended core. */
const FORWARD_THREAD_NICE = 10;
const port = parentPort;
if (!port) throw new Error('http-thread-worker runs as a worker thread');
lowerPriority();
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

/**
 * Forwarding can wait; acknowledging cannot. On Linux the nice value belongs to the thread, so
 * this thread lowers its own: with cores to spare it runs at full speed, and when the machine is
 * busy the kernel gives the acknowledging threads (main, SQLite writer) the CPU first. Elsewhere,
 * or without a thread id to name, it stays as it is.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, FORWARD_THREAD_NICE);
  } catch {
    // not Linux, or not allowed: same priority as the rest
  }
}
