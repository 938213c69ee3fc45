import autocannon from 'autocannon';
import { Pool } from 'undici';
import type { PayloadGenerator } from './payloads.js';
import { LatencyRecorder, type LatencySummary } from './stats.js';

export interface LoadResult {
  /** 2xx answers per second. */
  rate: number;
  /** The exact 2xx latencies, for merging slices. */
  recorder: LatencyRecorder;
  /** All answers (any status) per second. */
  requestRate: number;
  latency: LatencySummary;
  requests: number;
  ok: number;
  /** Connection errors, timeouts and non-2xx answers. */
  errors: number;
  statuses: Record<string, number>;
  durationS: number;
}

export interface ClosedLoopOptions {
  url: string;
  path: string;
  headers: Record<string, string>;
  payloads: PayloadGenerator;
  connections: number;
  durationS: number;
}

/**
 * Closed loop with autocannon: each connection sends its next request as soon as the last one is
 * answered. Latencies are taken from autocannon's per-response events (exact, not its 1 ms buckets).
 */
export function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const latencies = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationS,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: options.path,
            headers: options.headers,
            setupRequest: (request) => {
              request.body = options.payloads.next();
              return request;
            },
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err);
        const ok = result['2xx'];
        const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
        resolve({
          recorder: latencies,
          rate: ok / result.duration,
          requestRate: requests / result.duration,
          latency: latencies.summary(),
          requests,
          ok,
          errors: result.errors + result.timeouts + result.non2xx,
          statuses,
          durationS: result.duration,
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) latencies.record(responseTimeMs);
    });
  });
}

export interface OpenLoopOptions {
  url: string;
  path: string;
  headers: Record<string, string>;
  payloads: PayloadGenerator;
  /** Requests started per second, whatever the answers do. */
  rate: number;
  durationS: number;
  /** Sockets the sender may open. */
  connections?: number;
  /** Above this many unanswered requests the sender stops issuing and counts the rest as errors. */
  maxInFlight?: number;
}

/**
 * Open loop: requests go out on a fixed schedule, and each latency is measured from when the
 * request was due, not when a free connection let it go, so a stall shows up in the numbers
 * (no coordinated omission).
 */
export async function openLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const pool = new Pool(options.url, {
    connections: options.connections ?? 64,
    pipelining: 1,
    keepAliveTimeout: 10_000,
  });
  const latencies = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  const maxInFlight = options.maxInFlight ?? 2_000;
  const total = Math.max(1, Math.round(options.rate * options.durationS));
  let issued = 0;
  let inFlight = 0;
  let ok = 0;
  let errors = 0;
  let lastDone = 0;
  const started = performance.now();
  const intervalMs = 1000 / options.rate;

  const send = (dueAt: number) => {
    inFlight++;
    pool
      .request({ method: 'POST', path: options.path, headers: options.headers, body: options.payloads.next() })
      .then(async (res) => {
        await res.body.dump();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          ok++;
          latencies.record(performance.now() - dueAt);
        } else errors++;
      })
      .catch(() => {
        statuses.error = (statuses.error ?? 0) + 1;
        errors++;
      })
      .finally(() => {
        inFlight--;
        lastDone = performance.now();
      });
  };

  // Every millisecond or so, send whatever has come due: sub-millisecond pacing is not needed at
  // these rates and a timer per request would cost more than the requests.
  const hardStop = started + options.durationS * 1000 + 30_000;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - started) / intervalMs) + 1);
      while (issued < due) {
        const dueAt = started + issued * intervalMs;
        issued++;
        // Not an error of the receiver's: it fell that far behind, and the sender stops piling on.
        if (inFlight >= maxInFlight) statuses['not sent'] = (statuses['not sent'] ?? 0) + 1;
        else send(dueAt);
      }
      if (issued >= total || now > hardStop) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  // Let the last requests finish (bounded).
  for (let i = 0; i < 3000 && inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
  errors += inFlight;
  if (inFlight > 0) statuses.unanswered = inFlight;
  const durationS = (Math.max(lastDone, started + 1) - started) / 1000;
  await pool.destroy();
  const requests = Object.entries(statuses).reduce((a, [k, n]) => (k === 'not sent' ? a : a + n), 0);
  return {
    recorder: latencies,
    rate: ok / durationS,
    requestRate: requests / durationS,
    latency: latencies.summary(),
    requests,
    ok,
    errors,
    statuses,
    durationS,
  };
}

/** Slices of one measurement, taken in turns with another, as one result. */
export function mergeResults(results: LoadResult[]): LoadResult {
  const recorder = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  let requests = 0;
  let ok = 0;
  let errors = 0;
  let durationS = 0;
  for (const r of results) {
    recorder.absorb(r.recorder);
    for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    requests += r.requests;
    ok += r.ok;
    errors += r.errors;
    durationS += r.durationS;
  }
  return {
    recorder,
    rate: ok / durationS,
    requestRate: requests / durationS,
    latency: recorder.summary(),
    requests,
    ok,
    errors,
    statuses,
    durationS,
  };
}

export interface GetLoopOptions {
  url: string;
  headers: Record<string, string>;
  /** Path of the next request. */
  nextPath: () => string;
  connections: number;
  durationS: number;
}

/** Closed-loop GETs (admin lookups) over undici, with exact latencies. */
export async function getLoop(options: GetLoopOptions): Promise<LoadResult> {
  const pool = new Pool(options.url, { connections: options.connections, pipelining: 1 });
  const latencies = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  const started = performance.now();
  const endAt = started + options.durationS * 1000;
  const maxRequests = 10_000_000;
  let sent = 0;
  const worker = async () => {
    while (performance.now() < endAt && sent < maxRequests) {
      sent++;
      const t = performance.now();
      try {
        const res = await pool.request({ method: 'GET', path: options.nextPath(), headers: options.headers });
        await res.body.dump();
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200) {
          ok++;
          latencies.record(performance.now() - t);
        } else errors++;
      } catch {
        statuses.error = (statuses.error ?? 0) + 1;
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  const durationS = (performance.now() - started) / 1000;
  await pool.destroy();
  return {
    recorder: latencies,
    rate: ok / durationS,
    requestRate: sent / durationS,
    latency: latencies.summary(),
    requests: sent,
    ok,
    errors,
    statuses,
    durationS,
  };
}
