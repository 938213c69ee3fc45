import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second for /proc's CPU times (USER_HZ; 100 on Linux everywhere). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a process (all threads) and of its main thread, from /proc. */
export interface CpuTimes {
  process: number;
  mainThread: number;
}

function secondsIn(statPath: string): number {
  return secondsOf(readFileSync(statPath, 'utf8'));
}

/** User + system seconds from the text of a /proc stat file. */
function secondsOf(stat: string): number {
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Null where /proc cannot tell (not Linux, or the process is gone). */
export function cpuTimes(pid: number): CpuTimes | null {
  try {
    return { process: secondsIn(`/proc/${pid}/stat`), mainThread: secondsIn(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return null;
  }
}

/** CPU seconds so far of each PostgreSQL server process on the machine, by pid; null where /proc cannot tell. */
function postgresProcesses(): Map<string, number> | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const seconds = new Map<string, number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'postgres') seconds.set(entry, secondsOf(stat));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return seconds;
}

/** What a section meters: CPU over the stretches it runs, then per request. */
export interface Meter {
  during<T>(run: () => Promise<T>): Promise<T>;
  perRequest(requests: number): CpuTimes | null;
}

/**
 * The PostgreSQL server's CPU (backends, WAL writer, checkpointer…): the database's share of an
 * event, on the same cores as the receiver. Counted per process: other clients' backends come and
 * go while a section runs (in CI, the other test files), and a sum over whatever exists at each
 * end would drop when one exits. A process that exits mid-stretch is left out (an undercount);
 * one that starts counts in full.
 */
export class PostgresServerMeter implements Meter {
  private seconds = 0;
  private ok = true;

  async during<T>(run: () => Promise<T>): Promise<T> {
    const before = postgresProcesses();
    const result = await run();
    const after = postgresProcesses();
    if (!before || !after || after.size === 0) this.ok = false;
    else for (const [pid, now] of after) this.seconds += Math.max(0, now - (before.get(pid) ?? 0));
    return result;
  }

  perRequest(requests: number): CpuTimes | null {
    if (!this.ok || requests <= 0) return null;
    const us = (this.seconds * 1e6) / requests;
    return { process: us, mainThread: us };
  }
}

/** Adds up a process's CPU time over the stretches it is measured in (a receiver's own turns). */
export class CpuMeter implements Meter {
  private total: CpuTimes = { process: 0, mainThread: 0 };
  private ok = true;

  constructor(private readonly pid: number) {}

  async during<T>(run: () => Promise<T>): Promise<T> {
    const before = cpuTimes(this.pid);
    const result = await run();
    const after = cpuTimes(this.pid);
    if (!before || !after) this.ok = false;
    else {
      this.total.process += after.process - before.process;
      this.total.mainThread += after.mainThread - before.mainThread;
    }
    return result;
  }

  /** Microseconds of CPU per request, or null if it could not be read. */
  perRequest(requests: number): CpuTimes | null {
    if (!this.ok || requests <= 0) return null;
    return { process: (this.total.process * 1e6) / requests, mainThread: (this.total.mainThread * 1e6) / requests };
  }
}

/** Several meters over the same stretches. */
export async function measureCpu<T>(meters: Meter[], run: () => Promise<T>): Promise<T> {
  let wrapped = run;
  for (const meter of meters) {
    const inner = wrapped;
    wrapped = () => meter.during(inner);
  }
  return wrapped();
}

export function describeCpu(cpu: CpuTimes | null): string {
  if (!cpu) return '';
  return `; CPU per request ${Math.round(cpu.mainThread)} µs on the main thread, ${Math.round(cpu.process)} µs in all its threads`;
}
