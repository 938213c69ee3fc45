import { createServer, type ServerResponse } from 'node:http';
import { fsync, openSync, write } from 'node:fs';
import { acceptedBody, answerJson, listenOnLoopback } from './script-server.js';

/**
 * The floor under any receiver that answers 2xx only once a delivery is on disk: a bare node:http
 * server that appends each body to a file and answers 200 only after an fsync that started after
 * the append. Bodies that arrive while an fsync runs share the next one (group commit, as the
 * receiver does). No parsing, no auth, no index, no outbox: whatever the receiver spends beyond
 * this row is its own; whatever this row spends beyond the bare baseline is the disk's and the
 * wake-ups it causes. Usage: node --import tsx bench/durable-floor.ts <port> <file>
 */
const port = Number(process.argv[2] ?? 0);
const file = process.argv[3];
if (!file) throw new Error('usage: durable-floor.ts <port> <file>');
const fd = openSync(file, 'a');
let waiting: Array<{ body: Buffer; res: ServerResponse }> = [];
let syncing = false;

function commit(): void {
  if (syncing || waiting.length === 0) return;
  syncing = true;
  const batch = waiting;
  waiting = [];
  const done = (err: Error | null) => {
    for (const { body, res } of batch) {
      if (err) answerJson(res, 503, `{"error":${JSON.stringify(err.message)}}`);
      else answerJson(res, 200, acceptedBody(body.length));
    }
    syncing = false;
    commit();
  };
  write(fd, Buffer.concat(batch.map((w) => w.body)), (err) => (err ? done(err) : fsync(fd, done)));
}

const server = createServer((req, res) => {
  if (req.method !== 'POST') return answerJson(res, 200, '{"ok":true}');
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    waiting.push({ body: Buffer.concat(chunks), res });
    commit();
  });
});
listenOnLoopback(server, port);
