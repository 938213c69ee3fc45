import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killLiveCliProcesses, REPO_ROOT, spawnCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';

/**
 * What the start banners suggest must work when pasted into a shell: once, the receiver's "try it"
 * lacked the Authorization it needed and the sandbox's printed `SocureApiKey <key>` literally.
 */
const dir = tempDir('docv-banners-');
afterEach(() => killLiveCliProcesses());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function shell(line: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('bash', ['-c', line], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The "Try it" command of a receiver banner: the lines after the heading, joined as the shell would. */
function tryItCommand(banner: string): string {
  const lines = banner.split('\n');
  const start = lines.findIndex((l) => l.trim().startsWith('Try it'));
  const rest: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === '') break;
    rest.push(l.trim());
  }
  return rest.join(' ').replaceAll('\\ ', ' ');
}

describe('start banners suggest commands that work', () => {
  it('the receiver without credentials: its curl is accepted', async () => {
    const proc = spawnCli(['serve', '--port', '0', '--db', `sqlite:${join(dir, 'open.db')}`, '--log-level', 'silent']);
    await proc.waitForStdout(/Try it[\s\S]*eventTime[^\n]*\n\n/);
    const run = shell(tryItCommand(proc.stdout));
    expect(run.stdout).toContain('"status":"accepted"');
  });

  it('the receiver with a webhook secret: the suggested command, with the secret filled in, is accepted', async () => {
    const proc = spawnCli(
      ['serve', '--port', '0', '--db', `sqlite:${join(dir, 'secret.db')}`, '--log-level', 'silent'],
      { env: { DOCV_WEBHOOK_SECRETS: 's3cret-banner' } },
    );
    await proc.waitForStdout(/Try it[^\n]*\n[^\n]+trigger[^\n]+\n/);
    expect(proc.stdout).not.toContain('s3cret-banner');
    const command = tryItCommand(proc.stdout);
    expect(command).toContain('<your webhook secret>');
    const run = shell(command.replace('<your webhook secret>', 's3cret-banner'));
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/HTTP 200/);
  });

  it('the sandbox with --api-key dev: its curl creates a transaction', async () => {
    const proc = spawnCli([
      'sandbox',
      '--port',
      '0',
      '--db',
      'sqlite::memory:',
      '--log-level',
      'silent',
      '--api-key',
      'dev',
    ]);
    const [, curl] = await proc.waitForStdout(/Create a transaction:\n\s+(curl[^\n]+)\n/);
    expect(curl).toContain('SocureApiKey dev');
    const run = shell(curl!);
    expect(JSON.parse(run.stdout)).toMatchObject({ docvTransactionId: expect.any(String) });
  });
});
