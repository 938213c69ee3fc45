import { Option, type Command } from 'commander';
import { isRfc3339DateTime } from '../../contract/index.js';
import type { QuarantineFilter } from '../../store/index.js';
import { CliError } from '../errors.js';
import { addExamples } from '../help.js';
import { dbOption, jsonOption, parsePositiveInt } from '../options.js';
import { formatTable } from '../table.js';
import { withStore } from '../with-store.js';
import { limitOption, parseSourceName } from './transactions.js';

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function instant(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  if (!isRfc3339DateTime(value))
    throw new CliError(`${flag} must be an RFC 3339 date-time such as 2026-03-01T00:00:00Z, got "${value}"`);
  return new Date(value);
}

function parseStatus(value: string): number {
  const n = parsePositiveInt(value);
  if (n < 100 || n > 599) throw new CliError(`--status must be an HTTP status (100-599), got ${value}`);
  return n;
}

interface FilterFlags {
  source?: string;
  reason?: string;
  status?: number;
  reprocessed?: boolean;
  from?: string;
  to?: string;
}

function addFilterOptions(command: Command): Command {
  return command
    .addOption(new Option('--source <name>', "only rows refused at this source's endpoint").argParser(parseSourceName))
    .option('--reason <outcome>', 'only rows refused for this reason, e.g. invalid, conflict, unsupported_media_type')
    .addOption(new Option('--status <code>', 'only rows answered with this status, e.g. 422').argParser(parseStatus))
    .option('--reprocessed', 'only rows already run through ingest again')
    .option('--no-reprocessed', 'only rows never run through ingest again')
    .option('--from <date-time>', 'received at or after this instant')
    .option('--to <date-time>', 'received before this instant');
}

function filterOf(flags: FilterFlags): Omit<QuarantineFilter, 'limit'> {
  return {
    source: flags.source,
    reason: flags.reason,
    status: flags.status,
    reprocessed: flags.reprocessed,
    from: instant(flags.from, '--from'),
    to: instant(flags.to, '--to'),
  };
}

/** Calls the running receiver's admin API: reprocessing must run where the destinations and the dialect are configured. */
async function adminPost(baseUrl: string, token: string | undefined, path: string, body: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (err) {
    throw new CliError(
      `cannot reach the receiver at ${baseUrl}: ${(err as Error).message} (is \`docv-webhooks serve\` running? see --url)`,
    );
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (res.status === 401)
    throw new CliError(`the receiver refused the admin token (401): check --admin-token / DOCV_ADMIN_TOKEN`);
  if (!res.ok && res.status !== 404 && res.status !== 409) {
    const detail = (parsed as { detail?: string } | null)?.detail ?? text.slice(0, 300);
    throw new CliError(`the receiver answered ${res.status}: ${detail}`);
  }
  return parsed;
}

interface ReprocessItem {
  quarantineId?: string;
  outcome?: string;
  status?: number;
  eventId?: string | null;
  detail?: string;
  problem?: { detail?: string };
}

export function register(program: Command): void {
  const quarantine = program
    .command('quarantine')
    .description(
      'authenticated deliveries that were refused (422, 409, 415…): list them, run them through ingest again',
    );
  addExamples(quarantine, [
    { say: 'deliveries refused as breaking the contract', run: 'docv-webhooks quarantine list --status 422' },
    {
      say: 'after an upgrade: run the ones never reprocessed through the running receiver again',
      run: 'docv-webhooks quarantine reprocess --all --no-reprocessed',
    },
  ]);

  const list = quarantine
    .command('list')
    .description('list quarantined deliveries, newest first')
    .addOption(dbOption())
    .addOption(jsonOption())
    .addOption(limitOption())
    .option('--cursor <cursor>', 'continue after a previous page');
  addExamples(addFilterOptions(list), [
    { say: 'the newest 50', run: 'docv-webhooks quarantine list' },
    { say: 'those refused at one source', run: 'docv-webhooks quarantine list --source sandbox' },
    {
      say: 'refused as breaking the contract since March, not reprocessed yet',
      run: 'docv-webhooks quarantine list --status 422 --no-reprocessed --from 2026-03-01T00:00:00Z',
    },
  ]).action(async (opts: FilterFlags & { db: string; json?: boolean; limit: number; cursor?: string }) => {
    const filter = { ...filterOf(opts), limit: opts.limit, cursor: opts.cursor };
    await withStore(opts.db, async (store) => {
      const page = await store.listQuarantine(filter);
      if (opts.json) return print(JSON.stringify(page));
      const rows = page.items.map((q) => ({
        quarantineId: q.quarantineId,
        source: q.source,
        receivedAt: q.receivedAt,
        status: q.status,
        reason: q.reason,
        dialect: q.dialect,
        why: (q.detail as { detail?: string } | null)?.detail ?? '-',
        reprocessed: q.reprocessed ? `${q.reprocessed.outcome} ${q.reprocessed.at}` : '-',
      }));
      print(
        formatTable(rows, [
          'quarantineId',
          'source',
          'receivedAt',
          'status',
          'reason',
          'dialect',
          'why',
          'reprocessed',
        ]),
      );
      if (page.nextCursor) print(`\nmore: --cursor ${page.nextCursor}`);
    });
  });

  const show = quarantine
    .command('show')
    .description('one quarantined delivery: why it was refused, its headers and body')
    .argument('<quarantineId>')
    .addOption(dbOption())
    .addOption(jsonOption());
  addExamples(show, [
    {
      say: 'why one delivery (its id from quarantine list) was refused, with its headers and body',
      run: 'docv-webhooks quarantine show qrn_06h4j2ha83rkeewbdvzayca7j0',
    },
    { say: 'as JSON', run: 'docv-webhooks quarantine show qrn_06h4j2ha83rkeewbdvzayca7j0 --json' },
  ]);
  show.action(async (id: string, opts: { db: string; json?: boolean }) => {
    await withStore(opts.db, async (store) => {
      const entry = await store.getQuarantine(id);
      if (!entry) throw new CliError(`no quarantined delivery ${JSON.stringify(id)}`);
      if (opts.json) return print(JSON.stringify(entry));
      const { body, headers, detail, ...summary } = entry;
      for (const [k, v] of Object.entries(summary))
        print(`${k.padEnd(14)} ${v === null ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
      print(`\nwhy:\n  ${JSON.stringify(detail, null, 2).replaceAll('\n', '\n  ')}`);
      print('\nheaders:');
      for (const [k, v] of Object.entries(headers)) print(`  ${k}: ${v}`);
      print(`\nbody:\n${body}`);
    });
  });

  const reprocess = quarantine
    .command('reprocess')
    .description(
      'run quarantined deliveries through ingest again in the running receiver (after an upgrade or a --dialect change)',
    )
    .argument('[quarantineIds...]', 'rows to reprocess; or none with --all and filters')
    .option('--all', 'every row that matches the filters (at most --max)')
    .addOption(
      new Option('--max <n>', 'most rows one --all run reprocesses (1-1000)').default(100).argParser(parsePositiveInt),
    )
    .addOption(
      new Option('--url <url>', 'the running receiver').env('DOCV_RECEIVER_URL').default('http://127.0.0.1:3000'),
    )
    .addOption(new Option('--admin-token <token>', "the receiver's admin token").env('DOCV_ADMIN_TOKEN'))
    .addOption(jsonOption());
  addExamples(addFilterOptions(reprocess), [
    {
      say: 'one row, in the receiver running on http://127.0.0.1:3000',
      run: 'docv-webhooks quarantine reprocess qrn_06h4j2ha83rkeewbdvzayca7j0',
    },
    {
      say: 'every contract violation not reprocessed yet, in a receiver that needs its admin token',
      run: 'DOCV_ADMIN_TOKEN=t0ken docv-webhooks quarantine reprocess --all --status 422 --no-reprocessed --url http://127.0.0.1:3000',
    },
  ]).action(
    async (
      ids: string[],
      opts: FilterFlags & { all?: boolean; max: number; url: string; adminToken?: string; json?: boolean },
    ) => {
      if (ids.length === 0 && !opts.all)
        throw new CliError('name the rows to reprocess (see `quarantine list`), or pass --all with filters');
      if (ids.length > 0 && opts.all) throw new CliError('pass either quarantine ids or --all, not both');
      if (opts.max > 1000) throw new CliError(`--max is at most 1000, got ${opts.max}`);
      let items: ReprocessItem[];
      let summary: unknown = null;
      if (opts.all) {
        const f = filterOf(opts);
        summary = await adminPost(opts.url, opts.adminToken, '/v1/quarantine/reprocess', {
          limit: opts.max,
          ...(f.source !== undefined ? { source: f.source } : {}),
          ...(f.reason !== undefined ? { reason: f.reason } : {}),
          ...(f.status !== undefined ? { status: f.status } : {}),
          ...(f.reprocessed !== undefined ? { reprocessed: f.reprocessed } : {}),
          ...(opts.from !== undefined ? { from: opts.from } : {}),
          ...(opts.to !== undefined ? { to: opts.to } : {}),
        });
        items = (summary as { items?: ReprocessItem[] }).items ?? [];
      } else {
        items = [];
        for (const id of ids) {
          const answer = (await adminPost(
            opts.url,
            opts.adminToken,
            `/v1/quarantine/${encodeURIComponent(id)}/reprocess`,
            {},
          )) as ReprocessItem;
          items.push(
            answer.quarantineId
              ? answer
              : { quarantineId: id, outcome: 'not_found', detail: answer.detail ?? 'not found' },
          );
        }
      }
      if (opts.json) print(JSON.stringify(summary ?? { items }));
      else {
        for (const i of items) {
          const why = i.problem?.detail ?? i.detail;
          print(
            `${i.quarantineId}  ${i.outcome}${i.status ? ` ${i.status}` : ''}${i.eventId ? `  ${i.eventId}` : ''}${why ? `  ${why}` : ''}`,
          );
        }
        print(
          `${items.length} reprocessed: ${items.filter((i) => i.outcome === 'accepted').length} accepted, ${items.filter((i) => i.outcome === 'duplicate').length} duplicate`,
        );
      }
      const failed = items.some(
        (i) => i.outcome === 'not_found' || i.outcome === 'unavailable' || (i.status ?? 0) >= 400,
      );
      if (failed) process.exitCode = 1;
    },
  );
}
