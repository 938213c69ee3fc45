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

/**
 * CPU of every PostgreSQL server process on the machine (backends, WAL writer, checkpointer…):
 * the database's share of an event, which runs on the same two cores as the receiver. Null
 * where /proc cannot tell, or where no PostgreSQL runs here.
 */
export function postgresServerCpu(): CpuTimes | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  let total = 0;
  let found = false;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      total += secondsOf(stat);
      found = true;
    } catch {
      // Gone between the listing and the read.
    }
  }
  return found ? { process: total, mainThread: total } : null;
}

/** Adds up CPU time over the stretches it is measured in (a receiver's own turns). */
export class CpuMeter {
  private total: CpuTimes = { process: 0, mainThread: 0 };
  private ok = true;

  /** `read` gives the CPU seconds so far: of a process (`cpuTimes`), of PostgreSQL, of this process. */
  constructor(private readonly read: () => CpuTimes | null) {}

  static ofProcess(pid: number): CpuMeter {
    return new CpuMeter(() => cpuTimes(pid));
  }

  async during<T>(run: () => Promise<T>): Promise<T> {
    const before = this.read();
    const result = await run();
    const after = this.read();
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
export async function measureCpu<T>(meters: CpuMeter[], run: () => Promise<T>): Promise<T> {
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
