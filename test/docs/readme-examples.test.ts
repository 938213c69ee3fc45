import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_DATABASE_URL } from '../../src/store/index.js';
import { freePort, killLiveCliProcesses, REPO_ROOT, spawnCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The README is the first thing a user runs, so its examples are run here as a user runs them:
 * against the built package (`dist/`, built by test/global-setup.ts), each in a fresh process.
 * A block is an example when the line before its fence is `<!-- example: NAME -->`. The README
 * must also stay short (the reference lives in docs/), and no link of the documentation may point
 * at a file or heading that is not there.
 */

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const README_MAX_BYTES = 8 * 1024;

/** The examples of a Markdown text, by name. */
function examples(markdown: string): Map<string, { lang: string; code: string }> {
  const found = new Map<string, { lang: string; code: string }>();
  for (const m of markdown.matchAll(/<!-- example: ([\w-]+) -->\n+```(\w*)\n([\s\S]*?)\n```/g))
    found.set(m[1]!, { lang: m[2]!, code: m[3]! });
  return found;
}

function example(name: string): { lang: string; code: string } {
  const found = examples(README).get(name);
  if (!found) throw new Error(`README.md has no block marked <!-- example: ${name} -->`);
  return found;
}

/** The environment a user's shell would have, without variables the CLI would read as settings. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(DOCV_|SOCURE_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|LOG_FORMAT$)/.test(name)) continue;
    env[name] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'docv-readme-'));
  dirs.push(dir);
  return dir;
}

/** A started process whose output is collected; it runs in a process group of its own, so a shell and what it started stop together. */
function start(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
  const closed = new Promise<number | null>((done) =>
    child.once('close', (code) => {
      children.delete(child);
      done(code);
    }),
  );
  return {
    output,
    closed,
    async stop(): Promise<void> {
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 5_000);
      await closed;
      clearTimeout(timer);
    },
  };
}

/** Signals the process group a child leads (it and what it started), if it is still running. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // Gone between the check and the signal.
  }
}

/** Runs a shell snippet to its end, as pasted into a terminal. */
async function sh(
  script: string,
  cwd: string,
  timeoutMs = 15_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = start('bash', ['-c', script], { cwd, env: userEnv() });
  const timer = setTimeout(() => void run.stop(), timeoutMs);
  const code = await run.closed;
  clearTimeout(timer);
  return { code, ...run.output };
}

/** The README's commands, pointed at the ports of this test instead of 3000 and 4010. */
function onPorts(code: string, ports: { receiver: number; sandbox?: number }): string {
  let out = code.replaceAll('127.0.0.1:3000', `127.0.0.1:${ports.receiver}`);
  if (ports.sandbox !== undefined) out = out.replaceAll('127.0.0.1:4010', `127.0.0.1:${ports.sandbox}`);
  return out;
}

/** `npm start`, as package.json defines it, with the port and the database from the environment. */
async function startReceiver(dir: string) {
  const scripts = (
    JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  expect(scripts.start).toBe('node dist/cli/bin.js serve');
  const port = await freePort();
  const receiver = spawnCli(['serve'], {
    env: { PORT: String(port), DATABASE_URL: `sqlite:${join(dir, 'docv-webhooks.db')}`, LOG_LEVEL: 'warn' },
  });
  await receiver.waitForStdout(/Try it/);
  return { port, receiver };
}

afterAll(() => {
  killLiveCliProcesses();
  for (const child of children) signalGroup(child, 'SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('README.md', () => {
  it(`is at most ${README_MAX_BYTES} bytes: the reference lives in docs/`, () => {
    expect(Buffer.byteLength(README)).toBeLessThanOrEqual(README_MAX_BYTES);
  });

  it(
    'quick start: npm start prints where to POST and where to look, and the try-it requests are answered as shown',
    { timeout: 60_000 },
    async () => {
      expect(README).toContain(
        'npm install && npm start   # the receiver on embedded SQLite (./data/docv-webhooks.db)',
      );
      expect(DEFAULT_DATABASE_URL).toBe('sqlite:./data/docv-webhooks.db');
      const dir = tempDir();
      const { port, receiver } = await startReceiver(dir);
      try {
        for (const line of onPorts(example('banner').code, { receiver: port }).split('\n'))
          expect(receiver.stdout).toContain(line);

        const tryIt = await sh(onPorts(example('try-it').code, { receiver: port }), dir);
        expect(tryIt.code, tryIt.stderr).toBe(0);
        // Two answers back to back (curl -s adds no newline): the acknowledgement, then the transaction.
        const m = /^(\{"status":"accepted","eventId":"evt_[^"]+"\})(\{[\s\S]*\})$/.exec(tryIt.stdout);
        expect(m, tryIt.stdout).not.toBeNull();
        expect(JSON.parse(m![2]!)).toMatchObject({
          docvTransactionId: 'demo-1',
          status: 'VERIFICATION_COMPLETED',
          decision: 'accept',
        });
      } finally {
        receiver.child.kill('SIGTERM');
        await receiver.exited();
      }
    },
  );

  it(
    'library example: type-checks against the built package and, run as a program, hands a delivery to its handler',
    { timeout: 90_000 },
    async () => {
      const { lang, code } = example('library');
      expect(lang).toBe('ts');
      const dir = tempDir();
      // As installed: `docv-webhooks` resolves to this package through node_modules.
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'docv-webhooks'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
      writeFileSync(join(dir, 'example.ts'), code);

      const program = ts.createProgram([join(dir, 'example.ts')], {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        types: ['node'],
        typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
        skipLibCheck: true,
      });
      const problems = ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(problems).toEqual([]);

      writeFileSync(
        join(dir, 'example.js'),
        ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
          .outputText,
      );
      const port = await freePort();
      const secret = 'readme-example-secret';
      const app = start(process.execPath, ['example.js'], {
        cwd: dir,
        env: userEnv({ PORT: String(port), SOCURE_WEBHOOK_SECRET: secret }),
      });
      try {
        const url = `http://127.0.0.1:${port}/socure/docv/webhook`;
        const post = (authorization: string) =>
          fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization },
            body: JSON.stringify({
              eventType: 'VERIFICATION_COMPLETED',
              docvTransactionId: 'readme-library-1',
              eventTime: '2026-03-01T10:00:00Z',
              decision: 'accept',
            }),
          });
        const accepted = await waitFor(
          () => post(`Bearer ${secret}`).catch(() => null),
          `the example listening on ${port} (stderr: ${app.output.stderr})`,
          20_000,
          100,
        );
        expect(accepted.status).toBe(200);
        expect(await accepted.json()).toMatchObject({ status: 'accepted', eventId: expect.stringMatching(/^evt_/) });
        expect((await post('Bearer not-the-secret')).status).toBe(401);
        await waitFor(
          () => /completed readme-library-1 accept evt_\w+/.test(app.output.stdout),
          `the handler's line (stdout: ${app.output.stdout}, stderr: ${app.output.stderr})`,
          20_000,
        );
        expect(existsSync(join(dir, 'data', 'docv.db'))).toBe(true);
      } finally {
        await app.stop();
      }
    },
  );

  it(
    'sandbox example: the sandbox delivers a whole accepted flow to the receiver of the quick start',
    { timeout: 90_000 },
    async () => {
      const dir = tempDir();
      const { port, receiver } = await startReceiver(dir);
      const sandboxCommand = example('sandbox').code;
      expect(sandboxCommand).toMatch(/^npx docv-webhooks sandbox /);
      const sandboxPort = await freePort();
      // What `npx docv-webhooks` runs in a checkout, on a free port (its flag's variable) instead of 4010.
      const command = sandboxCommand.replace(
        /^npx docv-webhooks /,
        `'${process.execPath}' '${join(REPO_ROOT, 'dist/cli/bin.js')}' `,
      );
      const sandbox = start('bash', ['-c', command], {
        cwd: dir,
        env: userEnv({ DOCV_SANDBOX_PORT: String(sandboxPort) }),
      });
      try {
        await waitFor(
          () => sandbox.output.stdout.includes(`DocV sandbox listening on http://127.0.0.1:${sandboxPort}`),
          `the sandbox (stderr: ${sandbox.output.stderr})`,
          20_000,
        );

        const created = await sh(
          onPorts(example('sandbox-create').code, { receiver: port, sandbox: sandboxPort }),
          dir,
        );
        expect(created.code, created.stderr).toBe(0);
        const answer = JSON.parse(created.stdout) as {
          referenceId: string;
          docvTransactionId: string;
          sessionUrl: string;
        };
        expect(answer).toMatchObject({
          referenceId: expect.any(String),
          docvTransactionId: expect.any(String),
          sessionUrl: expect.stringMatching(/^http/),
        });

        const transaction = await waitFor(
          async () => {
            const res = await fetch(
              `http://127.0.0.1:${port}/v1/transactions/${encodeURIComponent(answer.docvTransactionId)}`,
            );
            const body = res.ok ? ((await res.json()) as { status: string; decision: string | null }) : null;
            return body?.status === 'VERIFICATION_COMPLETED' ? body : null;
          },
          `the flow of ${answer.docvTransactionId} at the receiver (sandbox stderr: ${sandbox.output.stderr})`,
          30_000,
          100,
        );
        expect(transaction.decision).toBe('accept');
      } finally {
        await sandbox.stop();
        receiver.child.kill('SIGTERM');
        await receiver.exited();
      }
    },
  );
});

/** Markdown files whose links are checked: the README, the pointer left at BENCHMARKS.md, and docs/. */
function documentationFiles(): string[] {
  const files = [join(REPO_ROOT, 'README.md'), join(REPO_ROOT, 'BENCHMARKS.md')];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  walk(join(REPO_ROOT, 'docs'));
  return files;
}

/** Text outside code: fenced blocks and inline code hold no links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('documentation links', () => {
  it('every relative link in README.md and docs/ points to a file, and every #anchor to a heading, that exists', () => {
    const broken: string[] = [];
    for (const file of documentationFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const m of prose(text).matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const link = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
        const where = `${relative(REPO_ROOT, file)}: ${link}`;
        if (!existsSync(target)) {
          broken.push(`${where} (no ${relative(REPO_ROOT, target)})`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${where} (no heading #${anchor} in ${relative(REPO_ROOT, target)})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('finds the links it checks (the check itself works)', () => {
    expect(
      anchors('# `serve`: the receiver\n## Load and one-offs: `simulate` and `trigger`\n## Dup\n## Dup\n'),
    ).toEqual(new Set(['serve-the-receiver', 'load-and-one-offs-simulate-and-trigger', 'dup', 'dup-1']));
    expect(
      [...prose('[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n').matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]),
    ).toEqual(['x.md']);
  });
});
