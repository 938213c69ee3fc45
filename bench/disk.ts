import { closeSync, fsync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LatencyRecorder, type LatencySummary } from './stats.js';

/**
 * The disk's own fsync latency, measured in the bench's directory: a 16 KiB append and an fsync,
 * `count` times, as a group commit does. Every acknowledgement waits for one fsync (often for the
 * end of the one in flight and then its own), so this is the floor under the receiver's
 * open-loop latency on this machine, measured in the same run.
 */
export async function measureFsync(
  dir: string,
  count: number,
): Promise<{ latency: LatencySummary; perSecond: number }> {
  const path = join(dir, 'fsync-probe.dat');
  const fd = openSync(path, 'w');
  const page = Buffer.alloc(16 * 1024, 1);
  const latencies = new LatencyRecorder();
  const started = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      writeSync(fd, page);
      const before = performance.now();
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
      latencies.record(performance.now() - before);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return { latency: latencies.summary(), perSecond: (count * 1000) / (performance.now() - started) };
}
