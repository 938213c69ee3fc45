import { createServer } from 'node:http';
import { acceptedBody, answerJson, listenOnLoopback } from './script-server.js';

/**
 * The bare baseline server plus a fixed amount of CPU work per request, done on the event loop
 * before the answer: what a server that needs that many microseconds per request can reach under
 * the bench's load, on this machine, beside the load generator. It turns a ratio target into a
 * budget: the work per request a receiver may spend beyond the bare server to meet it.
 * Usage: node --import tsx bench/busy-server.ts <port> <microseconds of work per request>
 */
const port = Number(process.argv[2] ?? 0);
const workUs = Number(process.argv[3] ?? 0);
if (!Number.isFinite(workUs) || workUs < 0) throw new Error('usage: busy-server.ts <port> <microseconds>');
let sink = 0;

function work(): void {
  const until = performance.now() + workUs / 1000;
  // Real work rather than an idle wait: the CPU is what is being priced.
  while (performance.now() < until) sink = (sink * 31 + 7) % 1_000_003;
}

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    if (req.method === 'POST') work();
    answerJson(res, 200, acceptedBody(bytes));
  });
});
listenOnLoopback(server, port, `(${workUs} µs of work per request, checksum ${sink})`);
