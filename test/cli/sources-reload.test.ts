import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killLiveCliProcesses, spawnCli, type CliProcess } from '../helpers/cli.js';
import { docvEvent, tempDir } from '../helpers/receiver.js';

/*
 * SIGHUP in a fresh process (the built CLI): `serve --config` reads the file again and serves
 * its sources from then on; a file that cannot work is one error line and changes nothing;
 * without a config file there is nothing to read. `worker --config` the same for destinations.
 */

const ALPHA = { authorization: 'Bearer alpha-s3cret-value' };
const BETA = { authorization: 'Bearer beta-s3cret-value' };

const ONE_SOURCE = `
sources:
  - name: alpha
    path: /hooks/alpha
    auth:
      webhookSecrets: [alpha-s3cret-value]
`;

const TWO_SOURCES = `${ONE_SOURCE}
  - name: beta
    path: /hooks/beta
    dialect: asyncapi
    auth:
      webhookSecrets: [beta-s3cret-value]
`;

async function post(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    body: JSON.stringify(docvEvent()),
    headers: { 'content-type': 'application/json', ...headers },
  });
  await res.arrayBuffer();
  return res.status;
}

/** Sends SIGHUP and waits for the `count`-th log line matching `pattern` (each reload logs one). */
async function hangUp(proc: CliProcess, pattern: RegExp, count: number): Promise<void> {
  proc.child.kill('SIGHUP');
  const global = new RegExp(pattern.source, 'g');
  await proc.waitForStdout(new RegExp(`(?:[\\s\\S]*?${pattern.source}){${count}}`), 10_000);
  expect(proc.stdout.match(global)?.length).toBe(count);
}

describe('SIGHUP reloads the config file', () => {
  afterAll(() => killLiveCliProcesses());

  it('serve: a source added to the file is served after SIGHUP; a broken file changes nothing', async () => {
    const dir = tempDir('docv-sighup-');
    const file = join(dir, 'docv-webhooks.yaml');
    writeFileSync(file, ONE_SOURCE);
    const serve = spawnCli(['serve', '--port', '0', '--db', `sqlite:${join(dir, 'r.db')}`, '--config', file]);
    try {
      const [, base] = await serve.waitForStdout(
        /alpha\s+(http:\/\/127\.0\.0\.1:\d+)\/hooks\/alpha\s+shared-secret/,
        30_000,
      );
      expect(serve.stdout).toContain(`config file           ${file} (SIGHUP reads it again)`);
      expect(serve.stdout).not.toContain('alpha-s3cret-value');
      expect(await post(`${base}/hooks/alpha`, ALPHA)).toBe(200);
      expect(await post(`${base}/hooks/beta`, BETA)).toBe(404);

      writeFileSync(file, TWO_SOURCES);
      await hangUp(serve, /configuration reloaded: sources added beta/, 1);
      expect(await post(`${base}/hooks/beta`, BETA)).toBe(200);
      expect(await post(`${base}/hooks/beta`, ALPHA)).toBe(401);
      expect(await post(`${base}/hooks/alpha`, ALPHA)).toBe(200);

      // A path under /v1 cannot be a source's: the error is logged with the file's line, and both stay.
      writeFileSync(file, TWO_SOURCES.replace('/hooks/beta', '/v1/beta'));
      await hangUp(serve, /configuration not reloaded: .*docv-webhooks\.yaml:\d+:\d+: /, 1);
      expect(await post(`${base}/hooks/beta`, BETA)).toBe(200);
      expect(await post(`${base}/hooks/alpha`, ALPHA)).toBe(200);
      expect(serve.stdout).not.toContain('beta-s3cret-value');

      // Removed from the file: gone at the next SIGHUP.
      writeFileSync(file, ONE_SOURCE);
      await hangUp(serve, /configuration reloaded: sources removed beta/, 1);
      expect(await post(`${base}/hooks/beta`, BETA)).toBe(404);
    } finally {
      serve.child.kill('SIGTERM');
      expect((await serve.exited(15_000)).code).toBe(0);
    }
  });

  it('serve without a config file: SIGHUP says there is nothing to reload, and it keeps running', async () => {
    const dir = tempDir('docv-sighup-');
    const serve = spawnCli(['serve', '--port', '0', '--db', `sqlite:${join(dir, 'r.db')}`]);
    try {
      const [, url] = await serve.waitForStdout(/POST DocV events to\s+(http:\/\/\S+)/, 30_000);
      await hangUp(serve, /nothing to reload/, 1);
      expect(await post(url!)).toBe(200);
    } finally {
      serve.child.kill('SIGTERM');
      expect((await serve.exited(15_000)).code).toBe(0);
    }
  });

  it('worker: a destination added to the file is written to the store after SIGHUP', async () => {
    const dir = tempDir('docv-sighup-');
    const file = join(dir, 'docv-webhooks.yaml');
    writeFileSync(file, ONE_SOURCE);
    const worker = spawnCli([
      'worker',
      '--db',
      `sqlite:${join(dir, 'r.db')}`,
      '--config',
      file,
      '--forward-url',
      'http://127.0.0.1:9/flag',
    ]);
    try {
      await worker.waitForStdout(/docv-webhooks worker \S+ delivering to/, 30_000);
      writeFileSync(file, `${ONE_SOURCE}\ndestinations:\n  - url: http://127.0.0.1:9/file\n    sources: [alpha]\n`);
      await hangUp(worker, /configuration reloaded: destinations added forward:127\.0\.0\.1:9\/file/, 1);
      writeFileSync(file, '{not: [yaml');
      await hangUp(worker, /configuration not reloaded: /, 1);
    } finally {
      worker.child.kill('SIGTERM');
      expect((await worker.exited(15_000)).code).toBe(0);
    }
  });
});
