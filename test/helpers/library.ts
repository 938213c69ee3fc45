import type { DocvReceiver } from '../../src/index.js';

/** Hands one event to a library receiver's pipeline, as an adapter would after reading the request. */
export function postToReceiver(receiver: DocvReceiver, event: Record<string, unknown>) {
  return receiver.handle({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    remoteAddress: '127.0.0.1',
    body: Buffer.from(JSON.stringify(event)),
  });
}
