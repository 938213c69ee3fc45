import { createServer } from 'node:http';

/**
 * The baseline: the least a Node.js HTTP endpoint can do for a webhook (read the body, answer 200
 * with a small JSON body). Also the sink that forwards and the sandbox sender are pointed at.
 * Usage: node --import tsx bench/bare-server.ts <port>
 */
const port = Number(process.argv[2] ?? 0);
let n = 0;
const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    const body = `{"status":"accepted","eventId":"evt_${(n++).toString(36)}","bytes":${bytes}}`;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 10_000;
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
