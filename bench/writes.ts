import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Pool } from 'undici';
import { createPayloads } from './payloads.js';
import type { Row } from './report.js';
import { startReceiverProcess, type RunningChild } from './servers.js';
import { FORWARD_PATH, ingestHeaders, MB, newStore, stopAll, WEBHOOK_PATH, type BenchContext } from './sections.js';
import { LatencyRecorder } from './stats.js';

/**
 * What one event costs the SQLite file on the acknowledging path, read from the database itself:
 * the WAL frames (one per page written) each single-event commit appends, and the B-trees (tables
 * and indexes) those pages belong to.
 *
 * A receiver as deployed (`serve`, one forward destination stored, dispatch off so that no
 * delivery writes mix in) gets one request at a time, each awaited: one event, one commit. Beside
 * it, this process holds a read transaction opened on an emptied WAL: no checkpoint can copy pages
 * back while it reads the database file alone (SQLite needs that reader's lock to backfill), and
 * no commit can rewind the WAL, so the file only grows and each request's frames are the bytes it
 * added. Nothing in the store is changed or reached into: the same measure reads any store design.
 */

export const WRITES_GOAL = 5;
const WAL_HEADER_BYTES = 32;
const FILE_HEADER = 'page 1 (file header)';
/**
 * New events in one cycle of the payload mix (createPayloads' default window of 256 transactions,
 * three steps each): the first step creates a transaction, the others update it, so a measure
 * over a whole cycle weighs each as the mix does.
 */
const MIX_CYCLE = 3 * 256;
const FRAME_HEADER_BYTES = 24;
/** The receiver's writes travel only to this port if something delivered (nothing does: dispatch is off). */
const UNREACHED_DESTINATION = `http://127.0.0.1:9${FORWARD_PATH}`;

interface WalFrame {
  pageNo: number;
  /** Non-zero on a commit's last frame: the database's size in pages after it. */
  commitSize: number;
}

/** The frames of a WAL file, checked to be one generation (the salts of the header on every frame). */
function readWal(path: string): { pageSize: number; frames: WalFrame[] } {
  const buf = readFileSync(path);
  if (buf.length < WAL_HEADER_BYTES) return { pageSize: 0, frames: [] };
  const magic = buf.readUInt32BE(0);
  if (magic !== 0x377f0682 && magic !== 0x377f0683) throw new Error(`${path} is not a WAL file`);
  const pageSize = buf.readUInt32BE(8);
  const salt1 = buf.readUInt32BE(16);
  const salt2 = buf.readUInt32BE(20);
  const frames: WalFrame[] = [];
  for (
    let at = WAL_HEADER_BYTES;
    at + FRAME_HEADER_BYTES + pageSize <= buf.length;
    at += FRAME_HEADER_BYTES + pageSize
  ) {
    if (buf.readUInt32BE(at + 8) !== salt1 || buf.readUInt32BE(at + 12) !== salt2)
      throw new Error(`the WAL was restarted during the measure (frame ${frames.length + 1} is of another generation)`);
    frames.push({ pageNo: buf.readUInt32BE(at), commitSize: buf.readUInt32BE(at + 4) });
  }
  return { pageSize, frames };
}

/**
 * Copies the WAL into the database and cuts it to nothing. The receiver's checkpoint thread may be
 * in a checkpoint of its own, and SQLite does not wait for that one: tried again, a bounded number
 * of times.
 */
async function emptyWal(db: Database.Database): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number }>;
      if (result && result.busy === 0) return;
      last = `busy (${result?.log ?? '?'} frames in the WAL)`;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`could not empty the WAL before the measure: ${last}`);
}

function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

interface Sample {
  outcome: string;
  ms: number;
  /** WAL sizes before the request and after its answer. */
  from: number;
  to: number;
}

export const WRITES_LABEL = 'SQLite writes per event on the acknowledging path (one event per commit, WAL frames)';

export async function writesSection(ctx: BenchContext): Promise<Row> {
  const key = 'writes-sqlite';
  ctx.log(`${key}: WAL frames and B-trees per single-event commit`);
  const store = newStore(ctx, 'sqlite', key);
  const path = store.url.slice('sqlite:'.length);
  const walPath = `${path}-wal`;
  let receiver: RunningChild | undefined;
  let pool: Pool | undefined;
  try {
    receiver = await startReceiverProcess({
      name: `receiver-${key}`,
      dir: ctx.dir,
      databaseUrl: store.url,
      webhookSecret: ctx.webhookSecret,
      adminToken: ctx.adminToken,
      forwardUrl: UNREACHED_DESTINATION,
      dispatch: false,
      logLevel: ctx.logLevel,
      profileDir: ctx.profileDir,
      root: ctx.root,
    });
    pool = new Pool(receiver.url, { connections: 8, pipelining: 1 });
    const payloads = createPayloads();
    const headers = ingestHeaders(ctx);
    const post = async (): Promise<{ outcome: string; ms: number }> => {
      const started = performance.now();
      const res = await pool!.request({ method: 'POST', path: WEBHOOK_PATH, headers, body: payloads.next() });
      const text = await res.body.text();
      const ms = performance.now() - started;
      if (res.statusCode < 200 || res.statusCode > 299) return { outcome: `HTTP ${res.statusCode}`, ms };
      try {
        return { outcome: String((JSON.parse(text) as { status?: unknown }).status), ms };
      } catch {
        return { outcome: 'unreadable answer', ms };
      }
    };
    const fresh = () => payloads.sent - payloads.duplicates;
    // Tables and indexes a few levels deep, and the receiver's statements warm, before measuring;
    // ending on a cycle of the mix, so the measure takes each step of a flow as often.
    const warmup = ctx.smoke ? 64 : 3 * MIX_CYCLE;
    for (let i = 0; i < warmup && fresh() < warmup; i++)
      await Promise.all(Array.from({ length: Math.min(8, warmup - fresh()) }, post));

    const reader = new Database(path, { fileMustExist: true, timeout: 10_000 });
    const samples: Sample[] = [];
    let frames: WalFrame[];
    let pageSize: number;
    let owners: Map<number, string>;
    try {
      pageSize = Number(reader.pragma('page_size', { simple: true }));
      await emptyWal(reader);
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM sqlite_schema').get();
      const until = fresh() + (ctx.smoke ? 20 : MIX_CYCLE);
      for (let i = 0; i < 2 * MIX_CYCLE && fresh() < until; i++) {
        const from = fileSize(walPath);
        const r = await post();
        samples.push({ ...r, from, to: fileSize(walPath) });
      }
      ({ frames } = readWal(walPath));
      reader.exec('COMMIT');
      // Nothing writes now: the page owners as of the last commit measured.
      owners = new Map(reader.prepare('SELECT pageno, name FROM dbstat').raw().all() as Array<[number, string]>);
    } finally {
      reader.close();
    }

    const frameAt = (bytes: number) =>
      Math.max(0, Math.round((bytes - WAL_HEADER_BYTES) / (pageSize + FRAME_HEADER_BYTES)));
    const latency = new LatencyRecorder();
    const perBtree = new Map<string, number>();
    const byOutcome = new Map<string, { requests: number; pages: number; commits: number; btrees: number }>();
    let between = 0;
    let lastEnd = 0;
    for (const s of samples) {
      latency.record(s.ms);
      const mine = frames.slice(frameAt(s.from), frameAt(s.to));
      between += frameAt(s.from) - lastEnd;
      lastEnd = frameAt(s.to);
      // Page 1 is sqlite_schema's root but also the file header, rewritten whenever the file grows:
      // counted as a page, and as a B-tree only under a name of its own.
      const written = new Set(
        mine.map((f) => (f.pageNo === 1 ? FILE_HEADER : (owners.get(f.pageNo) ?? '(free page)'))),
      );
      const o = byOutcome.get(s.outcome) ?? { requests: 0, pages: 0, commits: 0, btrees: 0 };
      o.requests++;
      o.pages += mine.length;
      o.commits += mine.filter((f) => f.commitSize !== 0).length;
      o.btrees += written.size - (written.has(FILE_HEADER) ? 1 : 0);
      byOutcome.set(s.outcome, o);
      if (s.outcome === 'accepted') for (const name of written) perBtree.set(name, (perBtree.get(name) ?? 0) + 1);
    }
    between += frames.length - lastEnd;
    const accepted = byOutcome.get('accepted');
    if (!accepted) throw new Error(`no event accepted in the measure: ${[...byOutcome.keys()].join(', ')}`);
    const totalMs = samples.reduce((a, s) => a + s.ms, 0);
    const summary = latency.summary();
    const outcomes = [...byOutcome.entries()]
      .filter(([outcome]) => outcome !== 'accepted')
      .map(
        ([outcome, o]) =>
          `${o.requests} ${outcome}: ${(o.pages / o.requests).toFixed(1)} pages, ${(o.btrees / o.requests).toFixed(1)} B-trees`,
      );
    const breakdown = [...perBtree.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([name, count]) => `${name} ${(count / accepted.requests).toFixed(2)}`);
    return {
      key,
      section: WRITES_LABEL,
      rate: (samples.length * 1000) / totalMs,
      p50: summary.p50,
      p99: summary.p99,
      max: summary.max,
      rssMb: receiver.rss.peak() / MB,
      errors: samples.filter((s) => s.outcome.startsWith('HTTP') || s.outcome === 'unreadable answer').length,
      note:
        `${(accepted.pages / accepted.requests).toFixed(1)} pages per single-event commit and ${(accepted.btrees / accepted.requests).toFixed(1)} B-trees written per event ` +
        `(${accepted.requests} new events, ${(accepted.commits / accepted.requests).toFixed(2)} commits each, after ${warmup.toLocaleString('en-US')} warm-up events${ctx.smoke ? '' : ', one whole cycle of the mix'}, page size ${pageSize}); ` +
        `per event: ${breakdown.join(', ')}${outcomes.length ? `; ${outcomes.join('; ')}` : ''}; ` +
        `${between} pages written between the requests; events/s and latencies: one request at a time, each awaited`,
      figures: {
        pagesPerCommit: accepted.pages / Math.max(1, accepted.commits),
        pagesPerEvent: accepted.pages / accepted.requests,
        btreesPerEvent: accepted.btrees / accepted.requests,
      },
    };
  } finally {
    await pool?.destroy();
    await stopAll(receiver);
    await store.cleanup();
  }
}
