import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { AuthConfigError, createAllowList, createInboundAuth } from '../auth/index.js';
import { DEFAULT_SOURCE, DIALECTS, type Dialect } from '../contract/index.js';
import {
  parseRetentionAge,
  parseRetentionPolicy,
  RETENTION_PARTS,
  RetentionPolicyError,
  type RetentionPolicy,
} from '../store/retention-policy.js';
import type { ConfiguredDestination, SourceConfig } from './config.js';
import { configuredDestinationProblems } from './configured-destinations.js';
import { sourceProblems } from './sources.js';

/** What the config file holds, read and checked: the parts it may set. */
export interface ConfigFileContents {
  sources?: SourceConfig[];
  destinations?: ConfiguredDestination[];
  retention?: RetentionPolicy;
}

type Path = ReadonlyArray<string | number>;

export interface ReadContext {
  env: NodeJS.ProcessEnv;
  /** Where `{file: relative/path}` is read from: the config file's directory. */
  baseDir: string;
  report(path: Path, message: string): void;
}

/**
 * The contents of a parsed file whose shape the schema has checked (or reported on): secrets
 * resolved, ages and policies read, and each source, credential and destination checked as the
 * receiver will use it. Parts of the wrong shape are skipped here (the schema said why), so one
 * run reports every problem of the file.
 */
export function readContents(data: unknown, ctx: ReadContext): ConfigFileContents {
  if (!isRecord(data)) return {};
  const contents: ConfigFileContents = {};
  if (data.retention !== undefined) {
    const retention = readRetention(data.retention, ['retention'], ctx);
    if (retention) contents.retention = retention;
  }
  if (Array.isArray(data.sources)) {
    const sources = readList(data.sources, 'sources', ctx, readSource, sourceProblems);
    if (sources.length > 0) contents.sources = sources;
  }
  if (Array.isArray(data.destinations)) {
    // Subscriptions name the file's sources, or the single source of the flags when it declares none.
    const names = Array.isArray(data.sources)
      ? data.sources.flatMap((s: unknown) => (isRecord(s) && typeof s.name === 'string' ? [s.name] : []))
      : [DEFAULT_SOURCE];
    contents.destinations = readList(data.destinations, 'destinations', ctx, readDestination, (built) =>
      configuredDestinationProblems(built, names),
    );
  }
  return contents;
}

/** Each item read, then the list checked as a whole (unique names…), problems mapped back to items. */
function readList<T>(
  items: unknown[],
  key: string,
  ctx: ReadContext,
  read: (item: unknown, path: Path, ctx: ReadContext) => T | undefined,
  problemsOf: (built: T[]) => Array<{ index: number; path: Path; message: string }>,
): T[] {
  const kept = items
    .map((item, i) => ({ index: i, value: read(item, [key, i], ctx) }))
    .filter((r): r is { index: number; value: T } => r.value !== undefined);
  for (const p of problemsOf(kept.map((k) => k.value))) ctx.report([key, kept[p.index]!.index, ...p.path], p.message);
  return kept.map((k) => k.value);
}

function readSource(item: unknown, path: Path, ctx: ReadContext): SourceConfig | undefined {
  if (!isRecord(item) || typeof item.name !== 'string' || typeof item.path !== 'string') return undefined;
  const source: SourceConfig = { name: item.name, path: item.path, auth: readAuth(item.auth, [...path, 'auth'], ctx) };
  // One the schema refused is left out, not reported again.
  if ((DIALECTS as readonly unknown[]).includes(item.dialect)) source.dialect = item.dialect as Dialect;
  if (typeof item.environment === 'string') source.environment = item.environment;
  if (item.retention !== undefined) {
    const retention = readRetention(item.retention, [...path, 'retention'], ctx);
    if (retention) source.retention = retention;
  }
  if (isRecord(item.socure)) {
    const apiKey = readSecret(item.socure.apiKey, [...path, 'socure', 'apiKey'], ctx);
    // Half of one (a key that could not be read, a URL missing) was reported where it is written.
    if (apiKey !== undefined && typeof item.socure.baseUrl === 'string')
      source.socure = { baseUrl: item.socure.baseUrl, apiKey };
  }
  return source;
}

const SECRET_KINDS = ['webhookSecrets', 'basicAuth', 'signingSecrets'] as const;

/**
 * The credentials, each entry resolved and checked alone by createInboundAuth (so its message
 * lands on its line); entries that fail are left out, so the whole-source check that follows
 * (sourceProblems: combinations such as Basic with a shared secret) does not repeat them.
 */
function readAuth(auth: unknown, path: Path, ctx: ReadContext): SourceConfig['auth'] {
  const result: SourceConfig['auth'] = {};
  if (!isRecord(auth)) return result;
  for (const kind of SECRET_KINDS) {
    const list = auth[kind];
    if (!Array.isArray(list)) continue;
    const good = list.flatMap((ref: unknown, i) => {
      const secret = readSecret(ref, [...path, kind, i], ctx);
      if (secret === undefined) return [];
      const problem = authEntryProblem(() => createInboundAuth({ [kind]: [secret] }));
      if (problem) ctx.report([...path, kind, i], problem);
      return problem ? [] : [secret];
    });
    if (good.length > 0) result[kind] = good;
  }
  if (Array.isArray(auth.allowIps)) {
    const good = auth.allowIps.flatMap((entry: unknown, i) => {
      if (typeof entry !== 'string') return [];
      const problem = authEntryProblem(() => createAllowList([entry]));
      if (problem) ctx.report([...path, 'allowIps', i], problem);
      return problem ? [] : [entry];
    });
    if (good.length > 0) result.allowIps = good;
  }
  if (typeof auth.signatureToleranceSeconds === 'number' && Number.isSafeInteger(auth.signatureToleranceSeconds))
    result.signatureToleranceSeconds = auth.signatureToleranceSeconds;
  return result;
}

/**
 * What createInboundAuth says of a single entry, without the option and position it prefixes
 * (the path names both): `basicAuth: entry 1 has no colon` → `has no colon`.
 */
function authEntryProblem(build: () => unknown): string | null {
  try {
    build();
    return null;
  } catch (err) {
    if (!(err instanceof AuthConfigError)) throw err;
    return err.message
      .slice(err.option.length + 2)
      .replace(/^entry 1 \(("[^"]*")\) /, '$1 ')
      .replace(/^entry 1:? /, '');
  }
}

/**
 * A secret as written: the value itself, `{env: NAME}` or `{file: path}`. A variable that is not
 * set, or a file that cannot be read or is empty, is an error where the reference is written:
 * a secret meant to be configured must not turn silently into none. One trailing newline (an
 * editor's, echo's) is removed, as from the `_FILE` variables. Messages never hold the value.
 */
function readSecret(ref: unknown, path: Path, ctx: ReadContext): string | undefined {
  if (typeof ref === 'string') return ref;
  if (!isRecord(ref)) return undefined;
  if (typeof ref.env === 'string' && Object.keys(ref).length === 1) {
    const value = ctx.env[ref.env];
    if (value === undefined || value === '') {
      ctx.report(path, `environment variable ${ref.env} is ${value === undefined ? 'not set' : 'empty'}`);
      return undefined;
    }
    return withoutTrailingNewline(value);
  }
  if (typeof ref.file === 'string' && ref.file !== '' && Object.keys(ref).length === 1) {
    const file = isAbsolute(ref.file) ? ref.file : join(ctx.baseDir, ref.file);
    let value: string;
    try {
      value = withoutTrailingNewline(readFileSync(file, 'utf8'));
    } catch (err) {
      ctx.report(path, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
    if (value === '') {
      ctx.report(path, `${file} is empty`);
      return undefined;
    }
    return value;
  }
  return undefined;
}

function withoutTrailingNewline(value: string): string {
  if (value.endsWith('\r\n')) return value.slice(0, -2);
  if (value.endsWith('\n')) return value.slice(0, -1);
  return value;
}

/** `raw=30d,events=400d` or `{raw: 30d, events: 400d}`; a wrong part is reported where it is written. */
function readRetention(value: unknown, path: Path, ctx: ReadContext): RetentionPolicy | undefined {
  try {
    if (typeof value === 'string') return parseRetentionPolicy(value);
  } catch (err) {
    if (!(err instanceof RetentionPolicyError)) throw err;
    ctx.report(path, err.message);
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  const policy: RetentionPolicy = {};
  let good = true;
  for (const part of RETENTION_PARTS) {
    const text = value[part];
    if (typeof text !== 'string') continue;
    try {
      policy[part] = parseRetentionAge(text, part);
    } catch (err) {
      if (!(err instanceof RetentionPolicyError)) throw err;
      ctx.report([...path, part], err.message.replace(`${part}: `, ''));
      good = false;
    }
  }
  if (!good) return undefined;
  if (policy.raw !== undefined && policy.events !== undefined && policy.raw > policy.events) {
    ctx.report([...path, 'raw'], 'is longer than events: a raw body cannot outlive its event');
    return undefined;
  }
  return policy;
}

function readDestination(item: unknown): ConfiguredDestination | undefined {
  if (!isRecord(item) || typeof item.url !== 'string') return undefined;
  const strings = (list: unknown) =>
    Array.isArray(list) && list.every((s) => typeof s === 'string') ? (list as string[]) : undefined;
  const sources = strings(item.sources);
  const eventTypes = strings(item.eventTypes);
  return { url: item.url, ...(sources ? { sources } : {}), ...(eventTypes ? { eventTypes } : {}) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
