import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killLiveCliProcesses, spawnCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';

/**
 * Switches set from the environment read its value: commander's `.env()` on a boolean flag turned
 * it on whenever the variable existed, so DOCV_TRUST_PROXY=false trusted X-Forwarded-For, and
 * anyone could claim an allowed address.
 */
const dir = tempDir('docv-env-switches-');
afterEach(() => killLiveCliProcesses());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The status a loopback client gets when it claims, in X-Forwarded-For, an address of the allow-list. */
async function claimAllowedAddress(trustProxy: string): Promise<number> {
  const proc = spawnCli(
    [
      'serve',
      '--port',
      '0',
      '--db',
      `sqlite:${join(dir, `${trustProxy}.db`)}`,
      '--allow-ip',
      '10.0.0.0/8',
      '--log-level',
      'silent',
    ],
    {
      // Behind a proxy serve refuses to start without an admin token.
      env: { DOCV_TRUST_PROXY: trustProxy, DOCV_ADMIN_TOKEN: 'env-switches-admin-token' },
    },
  );
  const [, webhookUrl] = await proc.waitForStdout(/POST DocV events to\s+(http:\/\/\S+)/);
  const res = await fetch(webhookUrl!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.1.2.3' },
    body: JSON.stringify({
      eventType: 'APP_OPENED',
      docvTransactionId: `switch-${trustProxy}`,
      eventTime: '2026-03-01T10:00:00Z',
    }),
  });
  return res.status;
}

describe('DOCV_TRUST_PROXY', () => {
  it('=false does not trust X-Forwarded-For: the claimed address is refused', async () => {
    expect(await claimAllowedAddress('false')).toBe(403);
  });

  it('=true trusts it: the address the proxy appended is the client', async () => {
    expect(await claimAllowedAddress('true')).toBe(200);
  });
});
