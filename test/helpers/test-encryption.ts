import { randomBytes } from 'node:crypto';

/**
 * DOCV_TEST_ENCRYPTED=1 (the vitest project `encrypted`) runs suites a second time with
 * encryption at rest on: every test receiver (receiver.ts) and every scratch store (backends.ts)
 * gets this key, one for the run.
 */
export const TEST_ENCRYPTION = { current: randomBytes(32), previous: [] as Uint8Array[] };

/** The store option the run asks for: the key when DOCV_TEST_ENCRYPTED=1, nothing otherwise. */
export function testEncryption(): { encryption?: typeof TEST_ENCRYPTION } {
  return process.env.DOCV_TEST_ENCRYPTED === '1' ? { encryption: TEST_ENCRYPTION } : {};
}
