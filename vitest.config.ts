import { defineConfig } from 'vitest/config';

/**
 * The suites that read the store only through the receiver or the store's own reads run a second
 * time with encryption at rest on (DOCV_TEST_ENCRYPTED=1: test/helpers/test-encryption.ts gives
 * every test receiver and every scratch store of both backends a key), so what users see is the
 * same with and without a key. Suites that read the database's bytes directly (the raw body as
 * stored, the CLI on the file without a key) assert the plaintext layout and stay out of it.
 */
const ENCRYPTED_SUITES = [
  'test/server/admin-api.test.ts',
  'test/server/dashboard.test.ts',
  'test/server/dashboard-actions.test.ts',
  'test/server/retention-api.test.ts',
  'test/dispatch/forward.test.ts',
  'test/dispatch/decision-fetch.test.ts',
  'test/store/sqlite-store.test.ts',
  'test/sandbox/e2e-receiver.test.ts',
  // Both backends (scratchStores / the backends' receivers):
  'test/store/sources.test.ts',
  'test/store/retention.test.ts',
  'test/store/retention-per-source.test.ts',
  'test/store/console-queries.test.ts',
  'test/store/log-outbox.test.ts',
  'test/server/sources.test.ts',
  'test/server/admin-sources.test.ts',
  'test/server/dashboard-sources.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and child processes; two cores, so keep it modest.
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'plain', include: ['test/**/*.test.ts', 'src/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'encrypted', include: ENCRYPTED_SUITES, env: { DOCV_TEST_ENCRYPTED: '1' } },
      },
    ],
  },
});
