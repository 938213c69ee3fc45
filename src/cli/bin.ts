#!/usr/bin/env node
import { main } from './main.js';

// `docv-webhooks events list | head -2`: once the reader has gone, the next write fails with
// EPIPE. Stop quietly, as Unix tools do, rather than dying on an unhandled 'error' event.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const code = await main(process.argv);
if (code !== 0) process.exitCode = code;
