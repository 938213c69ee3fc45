import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root: the CLI runs from here, as a user of a checkout would run it. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Variables the CLI reads as flag defaults: cleared so the host's environment cannot change a test. */
const CLI_ENV_VARS = [
  'PORT',
  'HOST',
  'DATABASE_URL',
  'DOCV_ADMIN_TOKEN',
  'DOCV_WEBHOOK_PATH',
  'DOCV_MAX_BODY_BYTES',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'DOCV_SQLITE_WRITER_THREAD',
  'DOCV_WORKER_METRICS_PORT',
  'DOCV_WORKER_METRICS_HOST',
  'DOCV_DIALECT',
  'DOCV_RECEIVER_URL',
  'SOCURE_API',
  'DOCV_STORE_DOCUMENT_DATA',
  'DOCV_WEBHOOK_SECRETS',
  'DOCV_WEBHOOK_SIGNING_SECRETS',
  'DOCV_AUTH_FAILURE_LIMIT',
];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once stdout matches; rejects when the process ends first or after `timeoutMs`. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited; kills it and rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<CliResult>;
}

const live = new Set<ChildProcess>();

function cliEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CLI_ENV_VARS) delete base[name];
  return { ...base, NO_COLOR: '1', ...env };
}

/** Starts `docv-webhooks <args>` as installed users run it: `node dist/cli/bin.js` (built by test/global-setup.ts). */
export function spawnCli(args: string[], options: { env?: Record<string, string>; input?: string } = {}): CliProcess {
  const child = spawn(process.execPath, ['dist/cli/bin.js', ...args], {
    cwd: REPO_ROOT,
    env: cliEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();

  const done = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });

  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitForStdout(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = stdout.match(pattern);
          if (!m) return false;
          cleanup();
          resolve(m);
          return true;
        };
        const onData = () => void check();
        const onClose = () => {
          cleanup();
          reject(new Error(`process exited before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.off('close', onClose);
        };
        child.stdout!.on('data', onData);
        child.once('close', onClose);
        if (!check() && child.exitCode !== null) onClose();
      });
    },
    exited(timeoutMs = 15_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(
              `docv-webhooks ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
            ),
          );
        }, timeoutMs);
      });
      return Promise.race([done, timeout]).finally(() => clearTimeout(timer));
    },
  };
}

/**
 * One-shot commands running at once. Each is a Node process that loads the whole CLI (about half a
 * second of CPU); more than a few at a time only makes them all slower on a small machine.
 */
const MAX_PARALLEL_RUNS = 3;
let running = 0;
const queue: Array<() => void> = [];

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_PARALLEL_RUNS) await new Promise<void>((resolve) => queue.push(resolve));
  running += 1;
  try {
    return await fn();
  } finally {
    running -= 1;
    queue.shift()?.();
  }
}

/** Runs a one-shot command to completion; the timeout counts from when the process starts. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return slot(() => spawnCli(args, options).exited(options.timeoutMs));
}

/** Kills every CLI process a test left running (call in afterAll). */
export function killLiveCliProcesses(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
