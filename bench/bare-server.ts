import { createServer } from 'node:http';
import { acceptedBody, answerJson, listenOnLoopback } from './script-server.js';

/**
 * The baseline: the least a Node.js HTTP endpoint can do for a webhook (read the body, answer 200
 * with a small JSON body). Also the sink that forwards and the sandbox sender are pointed at.
 * Usage: node --import tsx bench/bare-server.ts <port>
 */
const port = Number(process.argv[2] ?? 0);
const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => answerJson(res, 200, acceptedBody(bytes)));
});
listenOnLoopback(server, port);
