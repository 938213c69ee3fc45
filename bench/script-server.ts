import type { Server, ServerResponse } from 'node:http';

/**
 * What the bench's own servers (the bare baseline, the durable floor, the budget servers) share:
 * the same small JSON answer and the same way of listening and stopping, so that they differ only
 * in the work they do per request.
 */
export function answerJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

let answered = 0;

/** The body every bench server acknowledges a delivery with (a receiver's answer is about this size). */
export function acceptedBody(bytes: number): string {
  return `{"status":"accepted","eventId":"evt_${(answered++).toString(36)}","bytes":${bytes}}`;
}

/** Listens on loopback, says `listening <port>` on stdout (`detail` after it), and stops on SIGTERM/SIGINT. */
export function listenOnLoopback(server: Server, port: number, detail = ''): void {
  server.keepAliveTimeout = 10_000;
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(
      `listening ${typeof address === 'object' && address ? address.port : port}${detail ? ` ${detail}` : ''}\n`,
    );
  });
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
