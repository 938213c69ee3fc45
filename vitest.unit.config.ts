import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the tests that stay in the process (pipeline pieces, lifecycle, contract,
 * auth, retry, the stores against a temp file, pure helpers), without the build of `dist/` that
 * `npm test` starts with. Every test file is a unit test unless it is listed here; the guard
 * (test/unit-guard.ts) fails a unit file that starts a process, listens on a port or opens a
 * connection, so a new integration test is named here rather than slowing the unit run unseen.
 * `npm test` (vitest.config.ts) still runs everything.
 */
export const integration = [
  // The built CLI in a child process, servers on loopback, the benchmark, the README's programs.
  'test/adapters/**',
  'test/bench/**',
  'test/browser/**',
  'test/cli/**',
  'test/crash/**',
  'test/docs/**',
  'test/package/**',
  'test/ingest/concurrency.test.ts',
  'test/ingest/ingest-contract.test.ts',
  'test/ingest/real-socure.test.ts',
  'test/postgres/**',
  'test/security/**',
  'test/dispatch/crash-restart.test.ts',
  'test/dispatch/decision-fetch-destination.test.ts',
  'test/dispatch/decision-fetch.test.ts',
  'test/dispatch/forward.test.ts',
  'test/dispatch/http-thread.test.ts',
  'test/dispatch/shared-destinations.test.ts',
  'test/dispatch/brokers/**',
  'test/sandbox/api.test.ts',
  'test/sandbox/capture-page.test.ts',
  'test/sandbox/cli.test.ts',
  'test/sandbox/deliveries-cli.test.ts',
  'test/sandbox/delivery.test.ts',
  'test/sandbox/dialects.test.ts',
  'test/sandbox/e2e-receiver.test.ts',
  'test/sandbox/id-plus.test.ts',
  'test/sandbox/restart.test.ts',
  'test/sandbox/simulate.test.ts',
  'test/sandbox/target-guard.test.ts',
  'test/sandbox/trigger.test.ts',
  'test/server/admin-api.test.ts',
  'test/server/dashboard.test.ts',
  'test/server/dashboard-actions.test.ts',
  'test/server/dashboard-live.test.ts',
  'test/server/dashboard-session.test.ts',
  'test/server/delivery-lag-metric.test.ts',
  'test/server/retention-api.test.ts',
  'test/server/retention-worker.test.ts',
  'test/server/metrics.test.ts',
  'test/server/sources.test.ts',
  'test/store/sqlite-file-modes.test.ts',
  'test/store/sqlite-store.test.ts',
  'test/store/sqlite-threaded.test.ts',
];

/**
 * Files that get a worker and modules of their own. The others share the modules a worker has
 * loaded (isolate: false), which halves the run: loading the modules of each file afresh cost
 * more than the tests themselves. A file that replaces a module (`vi.mock`) is found here
 * without being named; the others are named with the reason.
 */
const ownWorker = [
  // Measures the event loop's idle share over 30 ms of real time: collecting the garbage another
  // file left in a shared worker reads as a busy loop.
  'test/dispatch/load-throttle.test.ts',
  ...['test', 'src']
    .flatMap((dir) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((file) => join(dir, file)))
    .filter((file) => file.endsWith('.test.ts') && /\bvi\.(?:mock|doMock)\(/.test(readFileSync(file, 'utf8'))),
];

export default defineConfig({
  test: {
    setupFiles: ['test/unit-guard.ts'],
    // The PostgreSQL cases need a server: test/helpers/backends.ts skips them without probing.
    env: { DOCV_TEST_UNIT: '1' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...integration, ...ownWorker],
          isolate: false,
        },
      },
      { extends: true, test: { name: 'unit (own worker)', include: ownWorker, exclude: integration } },
    ],
  },
});
