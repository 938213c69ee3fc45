import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { DEFAULT_WEBHOOK_PATH } from '../contract/index.js';
import type { ReceiverConfig } from './config.js';
import { shapeProblems } from './config-file-schema.js';
import { positionOf } from './config-file-positions.js';
import { readContents, type ConfigFileContents } from './config-file-read.js';
import { ConfigError } from './errors.js';
import { formatJsonPath } from './json-path.js';
import { resolveReceiverConfig } from './resolve.js';

/*
 * The config file (issue 20), `docv-webhooks.yaml`: the receiver's sources, the destinations
 * with their subscriptions, and the receiver-wide retention; everything else stays in flags and
 * the environment. YAML or JSON (YAML 1.2 reads JSON as it is, so the content decides, not the
 * name), read with its positions so every problem is reported with its line, all at once.
 */

export type { ConfigFileContents } from './config-file-read.js';

/** One problem, where it is written: `path` is `$.sources[0].auth`, or `syntax` for a YAML/JSON error. */
export interface ConfigFileProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

/** The file is wrong; the message has a line `<file>:<line>:<col>: <json path>: <problem>` per problem. */
export class ConfigFileError extends ConfigError {
  constructor(
    message: string,
    readonly problems: readonly ConfigFileProblem[] = [],
  ) {
    super(message);
    this.name = 'ConfigFileError';
  }

  static of(problems: ConfigFileProblem[]): ConfigFileError {
    const lines = new Set<string>();
    const sorted = [...problems]
      .sort((a, b) => a.line - b.line || a.col - b.col)
      .filter((p) => !lines.has(`${p.path}: ${p.message}`) && lines.add(`${p.path}: ${p.message}`));
    return new ConfigFileError(
      sorted.map((p) => `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`).join('\n'),
      sorted,
    );
  }
}

/**
 * Reads the text of a config file. `fileName` is what messages name, and where `{file: …}`
 * references relative to it are read from; `env` is where `{env: …}` ones are.
 */
export function parseConfigText(
  text: string,
  fileName: string,
  env: NodeJS.ProcessEnv = process.env,
): ConfigFileContents {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigFileProblem[] = [];
  const at = (offset: number) => ({ file: fileName, ...lineCounter.linePos(offset) });
  // Warnings too (an unknown tag): a value read otherwise than written is a setting not as meant.
  for (const e of [...doc.errors, ...doc.warnings])
    problems.push({ ...at(e.pos[0]), path: 'syntax', message: e.message });
  if (problems.length > 0) throw ConfigFileError.of(problems);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw ConfigFileError.of([{ ...at(0), path: 'syntax', message: (err as Error).message }]);
  }
  const report = (path: ReadonlyArray<string | number>, message: string, onKey = false) =>
    problems.push({
      file: fileName,
      ...positionOf(doc, lineCounter, path, onKey),
      path: formatJsonPath(path),
      message,
    });
  for (const p of shapeProblems(data)) report(p.path, p.message, p.onKey);
  const contents = readContents(data, { env, baseDir: dirname(resolve(fileName)), report });
  if (problems.length > 0) throw ConfigFileError.of(problems);
  return contents;
}

/** Reads and checks the config file (synchronously: at start-up and on SIGHUP). */
export function readConfigFile(fileName: string, env: NodeJS.ProcessEnv = process.env): ConfigFileContents {
  let text: string;
  try {
    text = readFileSync(fileName, 'utf8');
  } catch (err) {
    throw new ConfigFileError(
      `${fileName}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  return parseConfigText(text, fileName, env);
}

/**
 * The single-source settings a file with sources takes over: each source gives its own path,
 * credentials, dialect and allow-list, so one also set by a flag would be ignored (or worse,
 * meant for one source and applied to none). Flag and variable, as the operator set them.
 */
function singleSourceSettings(config: ReceiverConfig): string[] {
  const { auth } = config;
  return [
    config.webhookPath !== DEFAULT_WEBHOOK_PATH ? '--webhook-path (DOCV_WEBHOOK_PATH)' : null,
    auth.webhookSecrets?.length ? '--webhook-secret (DOCV_WEBHOOK_SECRETS)' : null,
    auth.basicAuth?.length ? '--basic-auth (DOCV_WEBHOOK_BASIC_AUTH)' : null,
    auth.signingSecrets?.length ? '--signing-secret (DOCV_WEBHOOK_SIGNING_SECRETS)' : null,
    auth.signatureToleranceSeconds !== undefined ? '--signature-tolerance (DOCV_SIGNATURE_TOLERANCE_SECONDS)' : null,
    auth.allowIps?.length ? '--allow-ip (DOCV_ALLOWED_IPS)' : null,
    config.dialect !== undefined ? '--dialect (DOCV_DIALECT)' : null,
  ].filter((s): s is string => s !== null);
}

/**
 * The flags' configuration with the file's parts: its sources (replacing the single source the
 * flags make), its destinations (beside --forward-url) and its retention. Pass the configuration
 * of the flags alone, every time: a SIGHUP applies the re-read file to it again, so what the last
 * file said does not linger. ConfigError when a flag and the file both set one thing, naming both.
 */
export function withConfigFile(config: ReceiverConfig, contents: ConfigFileContents, fileName: string): ReceiverConfig {
  const conflicts: string[] = [];
  if (contents.sources?.length) {
    const flags = singleSourceSettings(config);
    if (flags.length > 0)
      conflicts.push(
        `${fileName} declares sources, each with its own path, credentials, dialect and allow-list, but ${flags.join(', ')} ${flags.length > 1 ? 'are' : 'is'} set too: unset ${flags.length > 1 ? 'them' : 'it'}, or declare no sources in the file`,
      );
    if (config.sources?.length)
      conflicts.push(`${fileName} declares sources, and so does the configuration it is applied to`);
  }
  if (contents.retention !== undefined && config.retention !== undefined)
    conflicts.push(`--retention (DOCV_RETENTION) and the retention of ${fileName} are both set: keep one of them`);
  if (conflicts.length > 0) throw new ConfigError(conflicts.join('\n'));

  const destinations = [...(config.destinations ?? []), ...(contents.destinations ?? [])];
  const next: ReceiverConfig = {
    ...config,
    sources: contents.sources ?? config.sources,
    destinations: destinations.length > 0 ? destinations : undefined,
    retention: contents.retention ?? config.retention,
    configFile: fileName,
  };
  try {
    // What only the whole configuration shows: a file's destination that is also a --forward-url.
    return resolveReceiverConfig(next);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      err.message
        .split('\n')
        .map((line) => `${fileName}: ${line}`)
        .join('\n'),
    );
  }
}
