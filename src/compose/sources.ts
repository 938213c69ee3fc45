import { AuthConfigError, createInboundAuth, requireSecret } from '../auth/index.js';
import { redactUrl } from '../auth/redact-url.js';
import { DIALECTS, sourceNameProblem } from '../contract/index.js';
import { RETENTION_PARTS, type RetentionPolicy } from '../store/retention-policy.js';
import type { SourceConfig } from './config.js';
import { ConfigError } from './errors.js';
import { formatJsonPath } from './json-path.js';

/**
 * Paths the receiver answers itself: a source there would be shadowed by them, or shadow them
 * (the admin API, the dashboard, metrics, the health checks).
 */
export const RESERVED_PATHS: readonly string[] = [
  '/v1',
  '/dashboard',
  '/metrics',
  '/healthz',
  '/readyz',
  '/favicon.ico',
];

/**
 * Letters, digits and `-._~/`: what a webhook path needs. The router reads `:` and `*` as
 * parameters and wildcards, and `?`, `#` or a space could never arrive as part of a path.
 */
const SOURCE_PATH = /^\/[A-Za-z0-9._~/-]*$/;

/** Why `path` cannot be a source's path, or null when it can. */
export function sourcePathProblem(path: string): string | null {
  const shown = `"${path.slice(0, 200)}"`;
  if (!path.startsWith('/')) return `${shown} must start with "/"`;
  if (path.length > 1000) return `${shown}… is longer than 1000 characters`;
  if (!SOURCE_PATH.test(path)) return `${shown} may hold only letters, digits and - . _ ~ /`;
  if (path.includes('//')) return `${shown} has an empty segment ("//")`;
  const reserved = RESERVED_PATHS.find((r) => path === r || path.startsWith(`${r}/`));
  if (reserved) return `${shown} is under ${reserved}, which the receiver answers itself`;
  return null;
}

/** What is wrong with one source, or with it beside the ones before it; `path` is relative to the source. */
export interface SourceProblem {
  index: number;
  path: ReadonlyArray<string | number>;
  message: string;
}

/**
 * Every problem of a list of sources, not only the first: names and paths (each unique), dialect,
 * credentials (built as the server builds them, so what passes here starts), retention and the
 * decision fetch's URL. The config file maps each to its line; validateSources to one message.
 */
export function sourceProblems(sources: readonly SourceConfig[]): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  sources.forEach((source, index) => {
    const problem = (path: ReadonlyArray<string | number>, message: string) => problems.push({ index, path, message });
    if (source === null || typeof source !== 'object') return problem([], 'must be an object');
    if (typeof source.name !== 'string') problem(['name'], 'must be a string');
    else {
      const nameProblem = sourceNameProblem(source.name);
      if (nameProblem) problem(['name'], nameProblem);
      const first = names.get(source.name);
      if (first !== undefined) problem(['name'], `"${source.name}" is also the name of sources[${first}]`);
      else names.set(source.name, index);
    }
    if (typeof source.path !== 'string') problem(['path'], 'must be a string');
    else {
      const pathProblem = sourcePathProblem(source.path);
      if (pathProblem) problem(['path'], pathProblem);
      const first = paths.get(source.path);
      if (first !== undefined) problem(['path'], `"${source.path}" is also the path of sources[${first}]`);
      else paths.set(source.path, index);
    }
    if (source.dialect !== undefined && !(DIALECTS as readonly unknown[]).includes(source.dialect))
      problem(['dialect'], `"${String(source.dialect).slice(0, 80)}" is not one of ${DIALECTS.join(', ')}`);
    if (
      source.environment !== undefined &&
      (typeof source.environment !== 'string' || source.environment.trim() === '')
    )
      problem(['environment'], 'must be a label such as Production or Sandbox');
    for (const p of authProblems(source.auth)) problem(['auth', ...p.path], p.message);
    for (const p of retentionProblems(source.retention)) problem(['retention', ...p.path], p.message);
    for (const p of socureProblems(source.socure)) problem(['socure', ...p.path], p.message);
  });
  return problems;
}

/** Refuses sources that cannot work (ConfigError listing every problem): resolveReceiverConfig calls it. */
export function validateSources(sources: readonly SourceConfig[]): void {
  const problems = sourceProblems(sources);
  if (problems.length === 0) return;
  throw new ConfigError(
    problems.map((p) => `${formatJsonPath(['sources', p.index, ...p.path], '')}: ${p.message}`).join('\n'),
  );
}

type Problem = { path: ReadonlyArray<string | number>; message: string };

/**
 * The credentials built as the server builds them (createInboundAuth), so a malformed signing
 * secret, a `user:pass` without a colon or a bad CIDR stops here. Messages never quote a secret.
 */
function authProblems(auth: SourceConfig['auth'] | undefined): Problem[] {
  if (auth === undefined) return [{ path: [], message: 'is missing (an empty auth: {} means no credentials)' }];
  if (auth === null || typeof auth !== 'object') return [{ path: [], message: 'must be an object' }];
  if ('trustProxy' in auth && auth.trustProxy !== undefined)
    return [{ path: ['trustProxy'], message: "is the receiver's setting (--trust-proxy), not a source's" }];
  try {
    createInboundAuth({ ...auth });
    return [];
  } catch (err) {
    if (!(err instanceof AuthConfigError)) throw err;
    // AuthConfigError's message starts with its option, which the path names already.
    const prefix = `${err.option}: `;
    return [
      { path: [err.option], message: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message },
    ];
  }
}

/** A policy in milliseconds (the library's shape): positive whole numbers, raw not outliving events. */
function retentionProblems(policy: RetentionPolicy | undefined): Problem[] {
  if (policy === undefined) return [];
  if (policy === null || typeof policy !== 'object') return [{ path: [], message: 'must be an object' }];
  const problems: Problem[] = [];
  for (const [part, value] of Object.entries(policy)) {
    if (!(RETENTION_PARTS as readonly string[]).includes(part))
      problems.push({ path: [part], message: `is not one of ${RETENTION_PARTS.join(', ')}` });
    else if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) <= 0))
      problems.push({ path: [part], message: 'must be a positive whole number of milliseconds' });
  }
  if (problems.length === 0 && policy.raw !== undefined && policy.events !== undefined && policy.raw > policy.events)
    problems.push({ path: ['raw'], message: 'is longer than events: a raw body cannot outlive its event' });
  return problems;
}

/**
 * A source's own decision fetch: its Socure account's base URL and API key, both (half of one
 * would have its fetches use the receiver-wide account without a word: compose/dispatch-wiring.ts
 * socureCredentials). The same URL rules as SOCURE_BASE_URL (compose/resolve.ts).
 */
function socureProblems(socure: SourceConfig['socure']): Problem[] {
  if (socure === undefined) return [];
  if (socure === null || typeof socure !== 'object') return [{ path: [], message: 'must be an object' }];
  const problems: Problem[] = [];
  for (const key of ['baseUrl', 'apiKey'] as const)
    if (socure[key] === undefined)
      problems.push({ path: [key], message: 'is missing: baseUrl and apiKey go together' });
  if (socure.apiKey !== undefined) {
    try {
      requireSecret('apiKey', socure.apiKey, 'API key');
    } catch (err) {
      if (!(err instanceof AuthConfigError)) throw err;
      problems.push({ path: ['apiKey'], message: err.message.replace(/^apiKey: /, '') });
    }
  }
  if (socure.baseUrl !== undefined) {
    const shown = typeof socure.baseUrl === 'string' ? redactUrl(socure.baseUrl).slice(0, 300) : String(socure.baseUrl);
    if (typeof socure.baseUrl !== 'string' || !/^https?:\/\//.test(socure.baseUrl) || !URL.canParse(socure.baseUrl))
      problems.push({ path: ['baseUrl'], message: `"${shown}" is not an http(s) URL` });
    // fetch refuses a URL with credentials: every decision fetch would fail, one by one, much later.
    else if (/^[^/]*\/\/[^/?#]*@/.test(socure.baseUrl))
      problems.push({ path: ['baseUrl'], message: `"${shown}" carries user:password; the API key goes in apiKey` });
  }
  return problems;
}
