import type { Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../../threads/spawn.js';
import type { AttemptOutcome } from '../types.js';
import { postNow, type HttpPost, type HttpPoster } from './http-post.js';

/** Messages to the forward thread. */
export type ToHttpThread = { kind: 'post'; id: number; post: HttpPost } | { kind: 'abort'; id: number };
/** Messages from it: `ready` once it listens, then one outcome per post. */
export type FromHttpThread = { kind: 'ready' } | { kind: 'outcome'; id: number; outcome: AttemptOutcome };

interface Waiting {
  post: HttpPost;
  signal: AbortSignal;
  onAbort: () => void;
  resolve: (outcome: AttemptOutcome) => void;
}

/**
 * Forwards on a worker thread of their own. An HTTP attempt is mostly work the event loop would
 * otherwise do between acknowledgements: undici's request machinery, the loopback or network
 * write (the kernel's TCP work is charged to the writing thread), reading the answer. On the
 * receiver's loop a forward cost about three times an ingest. Here the loop only posts a message
 * and reads one back, and the second core does the rest. Claims, outcomes and retries stay with
 * the dispatcher on the main thread, so the outbox logic is the same either way.
 *
 * If the thread cannot start at all (say, no tsx to load the TypeScript sources), posts run on
 * the calling thread instead: slower, never lost. If it dies later, the attempts it held fail and
 * are retried like any failed attempt, and the next post starts a new thread.
 */
export function createHttpThread(): HttpPoster {
  let worker: Worker | null = null;
  let ready = false;
  let unusable = false;
  let closed = false;
  let nextId = 1;
  const waiting = new Map<number, Waiting>();

  function settle(id: number, outcome: AttemptOutcome): void {
    const w = waiting.get(id);
    if (!w) return;
    waiting.delete(id);
    w.signal.removeEventListener('abort', w.onAbort);
    if (waiting.size === 0) worker?.unref();
    w.resolve(outcome);
  }

  function start(): Worker {
    const w = spawnModuleWorker(import.meta.url, 'http-thread-worker');
    ready = false;
    w.on('message', (m: FromHttpThread) => {
      if (m.kind === 'ready') ready = true;
      else settle(m.id, m.outcome);
    });
    const lost = (reason: string) => {
      if (worker !== w) return;
      worker = null;
      if (!ready) {
        // It never started: post what it held here, and from now on.
        unusable = true;
        for (const [id, p] of waiting) void postNow(p.post, p.signal).then((outcome) => settle(id, outcome));
        return;
      }
      for (const id of [...waiting.keys()])
        settle(id, { outcome: 'failed', error: `the forward thread ${reason} during the attempt` });
    };
    w.on('error', (err) => lost(`failed (${err.message})`));
    w.on('exit', (code) => lost(`exited (code ${code})`));
    return w;
  }

  return {
    post(post, signal) {
      if (unusable || closed) return postNow(post, signal);
      if (signal.aborted) return Promise.resolve({ outcome: 'failed', error: 'aborted before the attempt started' });
      worker ??= start();
      const thread = worker;
      const id = nextId++;
      return new Promise<AttemptOutcome>((resolve) => {
        const onAbort = () => thread.postMessage({ kind: 'abort', id } satisfies ToHttpThread);
        signal.addEventListener('abort', onAbort, { once: true });
        waiting.set(id, { post, signal, onAbort, resolve });
        // Held while attempts are out, so their answers are not lost to an exiting process.
        thread.ref();
        thread.postMessage({ kind: 'post', id, post } satisfies ToHttpThread);
      });
    },
    async close() {
      closed = true;
      const w = worker;
      worker = null;
      if (w) await w.terminate();
      for (const id of [...waiting.keys()])
        settle(id, { outcome: 'failed', error: 'the forward thread was stopped during the attempt' });
    },
  };
}
