import { createRequire, syncBuiltinESMExports } from 'node:module';
import { afterAll } from 'vitest';

/**
 * Setup file of `npm run test:unit` (vitest.unit.config.ts): a unit test stays in the process.
 * Starting a child process, listening on a port or opening a TCP connection is refused with an
 * error naming the test file, and recorded, so a test that catches the error still fails at the
 * end of its file. A file that needs any of these is an integration test: list it in
 * `integration` of vitest.unit.config.ts (it still runs under `npm test`).
 *
 * The patch goes on the CommonJS objects of the builtins; `syncBuiltinESMExports` carries it to
 * the ESM named exports (`import { spawn } from 'node:child_process'`), which vitest loads
 * natively.
 */
const require = createRequire(import.meta.url);
const childProcess = require('node:child_process') as Record<string, unknown>;
const net = require('node:net') as typeof import('node:net');

const refusals: string[] = [];

function refuse(what: string): never {
  const message =
    `unit test refused ${what}: unit tests run in process (no child process, no port, no ` +
    `connection). Move the file to the integration list of vitest.unit.config.ts.`;
  refusals.push(what);
  throw new Error(message);
}

for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
  childProcess[name] = () => refuse(`child_process.${name}`);
}
net.Server.prototype.listen = function listen(): never {
  return refuse('listening on a port (net.Server.listen)');
};
net.Socket.prototype.connect = function connect(): never {
  return refuse('a connection (net.Socket.connect)');
};
syncBuiltinESMExports();

afterAll(() => {
  if (refusals.length > 0) {
    throw new Error(`unit test file left the process: ${[...new Set(refusals)].join(', ')}`);
  }
});
