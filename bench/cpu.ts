import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second for /proc's CPU times (USER_HZ; 100 on Linux everywhere). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a process (all threads) and of its main thread, from /proc. */
export interface CpuTimes {
  process: number;
  mainThread: number;
}

function secondsIn(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
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

/** Adds up a process's CPU time over the stretches it is measured in (the receiver's own turns). */
export class CpuMeter {
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

export function describeCpu(cpu: CpuTimes | null): string {
  if (!cpu) return '';
  return `; CPU per request ${Math.round(cpu.mainThread)} µs on the main thread, ${Math.round(cpu.process)} µs in all its threads`;
}
