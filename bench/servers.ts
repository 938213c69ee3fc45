import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleRss, type RssSampler } from './rss.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every child this process started; all are killed when it exits, however it exits. */
const children = new Set<ChildProcess>();

export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

let hooked = false;
/** Kill children on exit, on Ctrl-C and on a crash of the bench itself. */
export function installExitHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllChildren();
      process.exit(130);
    });
  }
}

/** A port free right now on loopback (the child binds it a moment later). */
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

export interface RunningChild {
  name: string;
  pid: number;
  url: string;
  process: ChildProcess;
  rss: RssSampler;
  logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`: a graceful exit lets --cpu-prof write its profile. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  script: string;
  args: string[];
  /** Extra node flags (--cpu-prof …). */
  nodeFlags?: string[];
  /** The child's stdout and stderr go here, not through this process (whose CPU is the load generator's). */
  logFile: string;
  port: number;
  /** Answers 2xx once the child is ready. */
  readyPath: string;
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Checkout to run from (default: this one). */
  root?: string | undefined;
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitReady(child: ChildProcess, url: string, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline && attempt < 10_000; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`child exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not ready at ${url} within ${timeoutMs} ms:\n${tail(logFile)}`);
}

/**
 * The receiver and the sender run as deployed: the compiled CLI (`npm run build`, done by
 * buildCheckout at the start of a run). From the TypeScript sources through tsx they would also
 * carry tsx's loader, a thread of its own in every worker thread they start (more RSS, slower
 * start) that no deployment has. The bench's own helpers (bare server, store filler) run
 * through tsx.
 */
export const RECEIVER_CLI = 'dist/cli/bin.js';

function loaderFor(script: string): string[] {
  return script.endsWith('.ts') ? ['--import', 'tsx'] : [];
}

/** Compiles a checkout's src/ into its dist/ with this repo's TypeScript, so what is measured is current. */
export async function buildCheckout(root: string): Promise<void> {
  const tsc = resolve(ROOT, 'node_modules/typescript/bin/tsc');
  // Incremental, with the build info the test suite's global setup keeps: a dist/ that is already
  // current is not written again. A full rewrite, file by file, while the test suite runs the bench
  // smoke test beside other tests, let those tests load a half-written dist/ (a missing export).
  const args = [
    tsc,
    '-p',
    resolve(root, 'tsconfig.build.json'),
    '--incremental',
    '--tsBuildInfoFile',
    resolve(root, 'dist/.tsbuildinfo'),
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((done) => child.once('close', done));
  if (code !== 0) throw new Error(`building ${root} failed (tsc exit ${code}):\n${output.slice(-2000)}`);
}

export async function spawnServer(options: SpawnOptions): Promise<RunningChild> {
  const out = openSync(options.logFile, 'a');
  const root = options.root ?? ROOT;
  const child = spawn(
    process.execPath,
    [...loaderFor(options.script), ...(options.nodeFlags ?? []), resolve(root, options.script), ...options.args],
    {
      cwd: root,
      stdio: ['ignore', out, out],
      env: { ...process.env, ...options.env },
    },
  );
  closeSync(out);
  children.add(child);
  child.once('exit', () => children.delete(child));
  const url = `http://127.0.0.1:${options.port}`;
  try {
    await waitReady(child, `${url}${options.readyPath}`, options.readyTimeoutMs ?? 30_000, options.logFile);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${options.name}: ${(err as Error).message}`);
  }
  const rss = sampleRss(child.pid!);
  return {
    name: options.name,
    pid: child.pid!,
    url,
    process: child,
    rss,
    logFile: options.logFile,
    async stop(graceMs = 15_000) {
      rss.stop();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function startBareServer(dir: string, name: string): Promise<RunningChild> {
  const port = await freePort();
  return spawnServer({
    name,
    script: 'bench/bare-server.ts',
    args: [String(port)],
    logFile: join(dir, `${name}.log`),
    port,
    readyPath: '/',
  });
}

/** The counting destination of the delivery sections (bench/forward-sink.ts): the bare answer, plus each event's arrival. */
export async function startForwardSink(dir: string, name: string): Promise<RunningChild> {
  const port = await freePort();
  return spawnServer({
    name,
    script: 'bench/forward-sink.ts',
    args: [String(port)],
    logFile: join(dir, `${name}.log`),
    port,
    readyPath: '/',
  });
}

/** The durable floor (bench/durable-floor.ts): a bare server that fsyncs each body before its 200. */
export async function startDurableFloor(dir: string, name: string): Promise<RunningChild> {
  const port = await freePort();
  return spawnServer({
    name,
    script: 'bench/durable-floor.ts',
    args: [String(port), join(dir, `${name}.dat`)],
    logFile: join(dir, `${name}.log`),
    port,
    readyPath: '/',
  });
}

/** The bare server plus `workUs` of CPU work per request (bench/busy-server.ts). */
export async function startBusyServer(dir: string, name: string, workUs: number): Promise<RunningChild> {
  const port = await freePort();
  return spawnServer({
    name,
    script: 'bench/busy-server.ts',
    args: [String(port), String(workUs)],
    logFile: join(dir, `${name}.log`),
    port,
    readyPath: '/',
  });
}

export interface ReceiverOptions {
  name: string;
  dir: string;
  databaseUrl: string;
  webhookSecret: string;
  adminToken: string;
  forwardUrl?: string | undefined;
  dispatch: boolean;
  logLevel?: string;
  /** Write a V8 CPU profile here on exit. */
  profileDir?: string | undefined;
  /** Run the receiver from another checkout (a before/after comparison). */
  root?: string | undefined;
}

/** `docv-webhooks serve` as an operator would run it, from the sources. */
export async function startReceiverProcess(options: ReceiverOptions): Promise<RunningChild> {
  const port = await freePort();
  const args = [
    'serve',
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--db',
    options.databaseUrl,
    '--webhook-secret',
    options.webhookSecret,
    '--admin-token',
    options.adminToken,
    '--log-level',
    options.logLevel ?? 'info',
    ...(options.forwardUrl ? ['--forward-url', options.forwardUrl] : []),
    ...(options.dispatch ? [] : ['--no-dispatch']),
  ];
  // One directory per server: node writes a profile per thread (tsx's loader runs on one of its own).
  const nodeFlags = options.profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, options.name)}`]
    : [];
  return spawnServer({
    name: options.name,
    script: RECEIVER_CLI,
    args,
    nodeFlags,
    logFile: join(options.dir, `${options.name}.log`),
    port,
    readyPath: '/readyz',
    root: options.root,
  });
}

export interface CompletedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak RSS of the process while it ran. */
  peakRss: number;
}

/** Runs a TypeScript script of this repo to its end (killed after `timeoutMs`), capturing its output. */
export async function runScript(
  script: string,
  args: string[],
  options: { timeoutMs: number; root?: string; onStderr?: (text: string) => void },
): Promise<CompletedRun> {
  const child = spawn(process.execPath, [...loaderFor(script), resolve(options.root ?? ROOT, script), ...args], {
    cwd: options.root ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const rss = sampleRss(child.pid!, 250);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    options.onStderr?.(d);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  children.delete(child);
  const peakRss = rss.peak();
  rss.stop();
  return { code, stdout, stderr, peakRss };
}
