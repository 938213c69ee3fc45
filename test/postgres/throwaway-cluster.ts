import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/cli.js';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster of its own in a temp directory, on a free loopback port: a test can stop
 * and start it (an outage) without touching the server other tests use.
 */
export interface ThrowawayCluster {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** `immediate` is a crash (no checkpoint, clients cut off); `fast` a clean shutdown. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its files. */
  destroy(): Promise<void>;
}

function findBinDir(): string | null {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  if (existsSync('/usr/lib/postgresql')) {
    // Newest major version first.
    for (const v of readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)))
      candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  candidates.push('/usr/local/pgsql/bin', '/usr/bin', '/usr/local/bin', '/opt/homebrew/bin');
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) ?? null;
}

function findRunuser(): string | null {
  return ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((p) => existsSync(p)) ?? null;
}

/** Why a throwaway cluster cannot be made here, or null when it can. */
export function throwawayClusterProblem(): string | null {
  if (!findBinDir()) return 'no initdb/pg_ctl found (looked in PG_BINDIR, /usr/lib/postgresql/*/bin, /usr/bin…)';
  if (process.getuid?.() === 0) {
    // initdb refuses to run as root: run the server as the postgres user instead.
    if (!findRunuser()) return 'running as root and runuser is missing (initdb refuses root)';
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      return 'running as root and there is no postgres user to run the server as (initdb refuses root)';
    }
  }
  return null;
}

export async function startThrowawayCluster(): Promise<ThrowawayCluster> {
  const bin = findBinDir();
  if (!bin) throw new Error(throwawayClusterProblem() ?? 'no PostgreSQL binaries');
  const dir = mkdtempSync(join(tmpdir(), 'docv-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  let uid = 0;
  let gid = 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    uid = Number(stdout.trim());
    gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const pgCommand = (tool: string, args: string[], timeoutMs: number) => {
    const file = join(bin, tool);
    return asRoot
      ? run(findRunuser()!, ['-u', 'postgres', '--', file, ...args], { timeout: timeoutMs })
      : run(file, args, { timeout: timeoutMs });
  };
  const port = await freePort();
  await pgCommand(
    'initdb',
    ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    60_000,
  ).catch(async (err: Error) => {
    // Older initdb has no --no-instructions.
    if (!/no-instructions/.test(String((err as { stderr?: string }).stderr ?? err.message))) throw err;
    await pgCommand('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'], 60_000);
  });
  // fsync off: the test is about availability, and the machine does not crash, only the server.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const start = async () => {
    await pgCommand(
      'pg_ctl',
      ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start'],
      40_000,
    );
  };
  const stop = async (mode: 'fast' | 'immediate' = 'immediate') => {
    await pgCommand('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop'], 40_000);
  };
  await start();
  let destroyed = false;
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
