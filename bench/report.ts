import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { ROOT } from './servers.js';

/** One line of the table. Numbers left undefined print as "–". */
export interface Row {
  /** Stable id the smoke test looks for. */
  key: string;
  section: string;
  /** Events (or requests) answered 2xx per second. */
  rate?: number | undefined;
  /** rate / the baseline's rate, same run. */
  ratio?: number | undefined;
  p50?: number | undefined;
  p99?: number | undefined;
  max?: number | undefined;
  rssMb?: number | undefined;
  /** Connection errors, timeouts and non-2xx answers. */
  errors?: number | undefined;
  note?: string | undefined;
  /** Why the section did not run. */
  skipped?: string | undefined;
  /** The section threw: what went wrong (the rest of the run went on). */
  failed?: string | undefined;
  /** Where the CPU of a receiver's closed loop went, per request (see CpuBudget). */
  cpu?: RequestCpu | undefined;
  /**
   * Figures without a column, for the goals (delivery: drainS, waiting, lagP99ForGoal, cpuPerEventUs;
   * writes: pagesPerCommit, btreesPerEvent). Null: measured as not reached (not drained in the wait).
   */
  figures?: Record<string, number | null> | undefined;
}

/** Microseconds of CPU per request during a receiver's closed-loop turns, and the baseline's rate in the same turns. */
export interface RequestCpu {
  receiverMain: number;
  receiverAll: number;
  loadGenerator: number;
  /** The PostgreSQL server's processes; null for SQLite (or where /proc cannot tell). */
  database: number | null;
  baselineRate: number;
}

/**
 * What an ingest goal leaves a receiver on this machine. At `goal` × the baseline's rate, the
 * machine's cores give each request cores / rate of CPU, of which the load generator takes its
 * share; what is left is all the receiver (and its database) may spend, whatever its design. A
 * single event loop cannot exceed one core, so its main thread has 1 / rate at most.
 */
export interface CpuBudget {
  name: string;
  goal: number;
  cores: number;
  cpu: RequestCpu;
}

export function formatCpuBudgets(budgets: CpuBudget[]): string {
  const lines = [
    '| receiver | goal | events/s at the goal | CPU per event left by the load generator, all cores | receiver uses (+ database) | one event loop at the goal | main thread uses |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const b of budgets) {
    const rate = b.goal * b.cpu.baselineRate;
    const left = (b.cores * 1e6) / rate - b.cpu.loadGenerator;
    const used = b.cpu.receiverAll + (b.cpu.database ?? 0);
    const usedText =
      b.cpu.database === null
        ? `${num(used)} µs`
        : `${num(used)} µs (${num(b.cpu.receiverAll)} + ${num(b.cpu.database)})`;
    lines.push(
      `| ${b.name} | ${num(b.goal, 2)}× | ${num(rate)} | ${num(left)} µs | ${usedText} | ${num(1e6 / rate)} µs | ${num(b.cpu.receiverMain)} µs |`,
    );
  }
  return lines.join('\n');
}

export interface Target {
  name: string;
  measured: number | undefined;
  goal: string;
  pass: boolean | undefined;
  unit: string;
  /** The same measure taken of the durable floor in the same run, where one applies. */
  floor?: number | undefined;
}

export function target(
  name: string,
  measured: number | undefined,
  op: '>=' | '<=',
  limit: number,
  unit = '',
  floor?: number,
): Target {
  const pass =
    measured === undefined || Number.isNaN(measured) ? undefined : op === '>=' ? measured >= limit : measured <= limit;
  return { name, measured, goal: `${op === '>=' ? '≥' : '≤'} ${limit}${unit}`, pass, unit, floor };
}

function num(value: number | undefined, digits = 0): string {
  if (value === undefined || Number.isNaN(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ms(value: number | undefined): string {
  if (value === undefined) return '–';
  return value < 10 ? num(value, 2) : num(value, 1);
}

export function formatTable(rows: Row[]): string {
  const lines = [
    '| section | events/s | × baseline | p50 ms | p99 ms | max ms | peak RSS MB | errors | notes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    if (r.skipped || r.failed) {
      lines.push(
        `| ${r.section} | – | – | – | – | – | – | – | ${r.skipped ? `skipped: ${r.skipped}` : `**failed**: ${r.failed}`} |`,
      );
      continue;
    }
    lines.push(
      `| ${r.section} | ${num(r.rate)} | ${r.ratio === undefined ? '–' : `${num(r.ratio, 2)}×`} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${num(r.rssMb)} | ${num(r.errors)} | ${r.note ?? ''} |`,
    );
  }
  return lines.join('\n');
}

export function formatTargets(targets: Target[]): string {
  const lines = ['| target | measured | goal | result | durable floor, same run |', '|---|---:|---|---|---:|'];
  const value = (v: number | undefined, unit: string) =>
    v === undefined || Number.isNaN(v)
      ? '–'
      : `${num(v, unit === '' || v >= 10 || Number.isInteger(v) ? 0 : 2)}${unit}`;
  for (const t of targets) {
    lines.push(
      `| ${t.name} | ${value(t.measured, t.unit)} | ${t.goal} | ${t.pass === undefined ? 'n/a (not measured)' : t.pass ? 'PASS' : '**MISS**'} | ${value(t.floor, t.unit)} |`,
    );
  }
  return lines.join('\n');
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function commitDescription(): string {
  const commit = git(['rev-parse', '--short', 'HEAD']) || 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  return dirty ? `${commit} + uncommitted changes` : commit;
}

export function machineDescription(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** The command as the user typed it, as far as it can be told. */
export function commandLine(argv: string[]): string {
  const args = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `node --import tsx bench/run.ts${args ? ` ${args}` : ''}`;
}

export interface Report {
  title: string;
  date: string;
  command: string;
  commit: string;
  machine: string;
  settings: string;
  rows: Row[];
  targets: Target[];
  budgets: CpuBudget[];
}

const BUDGET_PREAMBLE =
  "CPU the ingest goals allow: the machine's cores per event at the goal's rate, less what the load generator spent per request in the same turns, " +
  "against what the receiver spent (all its threads, and the PostgreSQL server's processes); and one core per event at that rate, against its main thread.";

export function formatReport(r: Report): string {
  return [
    `## ${r.date} — ${r.title}`,
    '',
    `- command: \`${r.command}\``,
    `- commit: ${r.commit}`,
    `- machine: ${r.machine}`,
    `- settings: ${r.settings}`,
    '',
    formatTable(r.rows),
    '',
    formatTargets(r.targets),
    '',
    ...(r.budgets.length ? [BUDGET_PREAMBLE, '', formatCpuBudgets(r.budgets), ''] : []),
  ].join('\n');
}

/** The line that opens the JSON copy of the figures at the end of a raw run (see formatRawRun). */
export const RAW_RUN_JSON_FENCE = '```json';

/**
 * The raw run as one file: the report people read (the tables the run printed, with when, what
 * and where it measured) and, after it, the same figures as JSON for scripts and comparisons.
 * Raw runs are written where the caller says, never appended to the documentation: the current
 * figures are summarised by hand in docs/performance.md.
 */
export function formatRawRun(report: Report): string {
  return `${formatReport(report)}\n${RAW_RUN_JSON_FENCE}\n${JSON.stringify(report, null, 2)}\n\`\`\`\n`;
}

export function writeRawRun(file: string, report: Report): void {
  writeFileSync(file, formatRawRun(report));
}
