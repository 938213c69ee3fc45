/**
 * A signal that aborts after `timeoutMs` or when `parent` aborts. Built by hand rather than with
 * AbortSignal.any(): on Node 20 a combined signal can be collected before it fires, and the
 * attempt then waits forever.
 */
export function withDeadline(parent: AbortSignal, timeoutMs: number): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    done() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}

/**
 * The promise's result, or a rejection once `signal` aborts: with `stopped()`'s error, by default
 * the signal's reason (withDeadline's `timed out after N ms`). The work behind the promise goes on;
 * the attempt stops waiting for it. The brokers' connects and publishes, whose clients take no
 * signal of their own.
 */
export function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  stopped: () => Error = () => abortReason(signal),
): Promise<T> {
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stopped());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`aborted (${String(reason)})`);
}
