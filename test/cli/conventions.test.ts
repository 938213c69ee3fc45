import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { killLiveCliProcesses, REPO_ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/receiver.js';
import { sandboxClient } from '../sandbox/helpers/api.js';
import { eventually, startSink } from '../sandbox/helpers/sink.js';

/**
 * CLI conventions (issue 15, item 9), checked on what users read: the built CLI's --version, and
 * the --help of every command, found by walking the command lists the help itself prints.
 */

const dirs: string[] = [];
afterAll(() => {
  killLiveCliProcesses();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const dir = tempDir('docv-conventions-');
  dirs.push(dir);
  return dir;
}

const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

describe('--version', () => {
  it('prints the version in package.json, long and short', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      expect(result, flag).toMatchObject({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
    }
  });

  it("reads the installed package's own package.json, whatever the working directory", () => {
    // An installed package: package.json beside dist (npm ships both), its dependencies found
    // through node_modules; run from a directory that has a package.json of its own.
    const installed = join(newDir(), 'docv-webhooks');
    cpSync(join(REPO_ROOT, 'dist'), join(installed, 'dist'), { recursive: true });
    writeFileSync(join(installed, 'package.json'), JSON.stringify({ ...manifest, version: '9.8.7-installed' }));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(installed, 'node_modules'), 'dir');
    const elsewhere = newDir();
    writeFileSync(join(elsewhere, 'package.json'), JSON.stringify({ name: 'someone-else', version: '0.0.1' }));
    const result = spawnSync(process.execPath, [join(installed, 'dist/cli/bin.js'), '--version'], {
      cwd: elsewhere,
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('9.8.7-installed\n');
    expect(result.status).toBe(0);
  });
});

/** One option line of a help page, its wrapped description joined back into one line. */
interface HelpOption {
  flags: string[];
  description: string;
}

interface HelpPage {
  /** The command's words after docv-webhooks; [] for the program itself. */
  path: string[];
  text: string;
  /** Section heading → its entries (continuation lines joined), in order. */
  sections: Map<string, string[]>;
  options: HelpOption[];
  subcommands: string[];
  /** The `$ …` lines of the Examples block. */
  examples: string[];
}

const name = (path: string[]) => ['docv-webhooks', ...path].join(' ');

/**
 * Cuts help text into sections ("Options:", "Commands:", "Examples:"…). An entry starts two spaces
 * in; commander indents the lines it wraps further, so those are joined back to their entry.
 */
function sectionsOf(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const heading = /^([A-Z][A-Za-z ]*):$/.exec(line);
    if (heading) sections.set(heading[1]!, (current = []));
    else if (current && /^ {2}\S/.test(line)) current.push(line.slice(2));
    else if (current && /^ {3,}\S/.test(line) && current.length > 0) current[current.length - 1] += ` ${line.trim()}`;
  }
  return sections;
}

function optionOf(entry: string): HelpOption {
  const [term = '', ...rest] = entry.split(/ {2,}/);
  return { flags: term.match(/(?<=^|[ ,])--?[A-Za-z][\w-]*/g) ?? [], description: rest.join(' ') };
}

async function helpPage(path: string[]): Promise<HelpPage> {
  const result = await runCli([...path, '--help']);
  expect(result.code, `${name(path)} --help: ${result.stderr}`).toBe(0);
  expect(result.stderr, name(path)).toBe('');
  const sections = sectionsOf(result.stdout);
  return {
    path,
    text: result.stdout,
    sections,
    options: (sections.get('Options') ?? []).map(optionOf),
    // commander's own `help [command]` is listed too; it has no help page of its own to walk.
    subcommands: (sections.get('Commands') ?? []).map((entry) => entry.split(' ')[0]!).filter((c) => c !== 'help'),
    examples: (sections.get('Examples') ?? []).filter((e) => e.startsWith('$ ')).map((e) => e.slice(2)),
  };
}

/** Every command's help page, from the program's down through each command list it prints. */
async function walkHelp(): Promise<HelpPage[]> {
  const pages: HelpPage[] = [];
  let level: string[][] = [[]];
  while (level.length > 0) {
    const found = await Promise.all(level.map(helpPage));
    pages.push(...found);
    level = found.flatMap((page) => page.subcommands.map((sub) => [...page.path, sub]));
  }
  return pages;
}

/** Shell words of one example line up to a redirection or pipe; quotes removed. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|([<>|&;])|(\S+)/g)) {
    if (m[3] !== undefined) break;
    words.push(m[1] ?? m[2] ?? m[4]!);
  }
  return words;
}

/** The words after `docv-webhooks`, leaving out environment assignments before it. */
function cliArgs(line: string): string[] {
  const words = shellWords(line);
  const at = words.indexOf('docv-webhooks');
  expect(at, `no docv-webhooks in: ${line}`).toBeGreaterThanOrEqual(0);
  expect(
    words.slice(0, at).every((w) => /^[A-Z_][A-Z0-9_]*=/.test(w)),
    `only env assignments before docv-webhooks: ${line}`,
  ).toBe(true);
  return words.slice(at + 1);
}

let pages: HelpPage[] = [];
const pageOf = (path: string[]) => pages.find((p) => p.path.join(' ') === path.join(' '));

/** The longest run of leading words naming a command: `transactions show demo-1` → transactions show. */
function commandPath(words: string[]): string[] {
  const path: string[] = [];
  for (const word of words) {
    if (!pageOf(path)!.subcommands.includes(word)) break;
    path.push(word);
  }
  return path;
}

function flagsOf(page: HelpPage): Set<string> {
  return new Set(page.options.flatMap((o) => o.flags));
}

/**
 * What is wrong with a command line mentioned in help (the words after docv-webhooks). A plain
 * lowercase word right after the command is read as a subcommand that does not exist: that is how
 * `deliveries list` got into replay's help, for a command that has no subcommands. Values users
 * type there (ids, event types, file names, URLs) have digits, capitals or punctuation.
 */
function problemsOf(words: string[], checkFlags: 'all' | 'leading'): string[] {
  const path = commandPath(words);
  const page = pageOf(path)!;
  const rest = words.slice(path.length);
  const problems: string[] = [];
  if (path.length === 0 && rest.length === 0) return [];
  if (rest[0] !== undefined && /^[a-z]+$/.test(rest[0]))
    problems.push(`\`${name([...path, rest[0]])}\`: ${name(path)} has no command ${rest[0]}`);
  const firstNonFlag = rest.findIndex((w) => !w.startsWith('-'));
  const leading = firstNonFlag === -1 ? rest : rest.slice(0, firstNonFlag);
  const flags = (checkFlags === 'all' ? rest : leading).filter((w) => /^--?[A-Za-z]/.test(w));
  for (const flag of flags.map((f) => f.split('=')[0]!)) {
    if (!flagsOf(page).has(flag)) problems.push(`\`${name(path)} ${flag}\`: ${name(path)} has no option ${flag}`);
  }
  return problems;
}

/** Every mention of a command in a help page: `docv-webhooks …` anywhere, and commands in backticks. */
function mentionProblems(page: HelpPage): string[] {
  const text = page.text
    .split('\n')
    .filter((l) => !l.startsWith('  $ '))
    .join('\n');
  const topLevel = pageOf([])!.subcommands;
  const problems: string[] = [];
  for (const m of text.matchAll(/`([^`]+)`/g)) {
    const words = m[1]!.split(/\s+/);
    if (words[0] === 'docv-webhooks') problems.push(...problemsOf(words.slice(1), 'all'));
    else if (topLevel.includes(words[0]!)) problems.push(...problemsOf(words, 'all'));
  }
  // Outside backticks a mention ends where the prose goes on: its words and the flags right after.
  for (const m of text.replace(/`[^`]*`/g, '').matchAll(/(?<![\w./-])docv-webhooks((?: [^\s,;:)]+)*)/g)) {
    problems.push(...problemsOf(m[1]!.trim().split(' ').filter(Boolean), 'leading'));
  }
  return problems.map((p) => `${name(page.path)} --help mentions ${p}`);
}

describe('every command --help', () => {
  beforeAll(async () => {
    pages = await walkHelp();
  }, 120_000);

  it('reaches every command', () => {
    const paths = pages.map((p) => p.path.join(' '));
    for (const expected of [
      '',
      'serve',
      'worker',
      'replay',
      'deliveries',
      'sandbox',
      'simulate',
      'trigger',
      'transactions list',
      'quarantine reprocess',
      'destinations enable',
    ]) {
      expect(paths).toContain(expected);
    }
  });

  it('ends with an Examples block of 1 to 3 commands of its own, each with a comment line above it', () => {
    for (const page of pages) {
      const block = /\nExamples:\n((?: {2}.*\n)+)$/.exec(page.text);
      expect(block, `${name(page.path)} --help ends with Examples:`).not.toBeNull();
      const lines = block![1]!.trimEnd().split('\n');
      expect(lines.length % 2, name(page.path)).toBe(0);
      lines.forEach((line, i) =>
        expect(line, name(page.path)).toMatch(
          i % 2 === 0 ? /^ {2}# \S/ : /^ {2}\$ (?:[A-Z_][A-Z0-9_]*=\S+ )*docv-webhooks\b/,
        ),
      );
      expect(page.examples.length, name(page.path)).toBeGreaterThanOrEqual(1);
      expect(page.examples.length, name(page.path)).toBeLessThanOrEqual(3);
      for (const example of page.examples) {
        const path = commandPath(cliArgs(example));
        expect(
          path.slice(0, page.path.length),
          `${name(page.path)} --help shows an example of another command: ${example}`,
        ).toEqual(page.path);
      }
    }
  });

  it('names only commands that exist, and in examples only options the command has', () => {
    const problems = pages.flatMap((page) => [
      ...mentionProblems(page),
      ...page.examples.flatMap((example) =>
        problemsOf(cliArgs(example), 'all').map((p) => `${name(page.path)} --help example ${p}`),
      ),
    ]);
    expect(problems).toEqual([]);
  });

  it("writes every environment variable as commander does, in the option's (… env: NAME) and nowhere else", () => {
    // The variables of this CLI: DOCV_*, SOCURE_* and the conventional ones.
    const envName = /\b(?:DOCV_[A-Z0-9_]+|SOCURE_[A-Z0-9_]+|DATABASE_URL|LOG_LEVEL|LOG_FORMAT|PORT|HOST)\b/;
    const problems: string[] = [];
    for (const page of pages) {
      for (const [heading, entries] of page.sections) {
        if (heading === 'Examples') continue; // command lines, where NAME=value is how it is written
        for (const entry of entries) {
          const env =
            heading === 'Options' ? /^(.*) \((?:[^()]*, )?env: ([^()]*)\)$/.exec(optionOf(entry).description) : null;
          const prose = env ? env[1]! : entry;
          if (envName.test(prose) || /\[env|\[or /.test(prose)) problems.push(`${name(page.path)}: ${entry}`);
          if (env && !/^[A-Z][A-Z0-9_]*(?: or [A-Z][A-Z0-9_]*_FILE)?$/.test(env[2]!))
            problems.push(`${name(page.path)}: env: ${env[2]}`);
        }
      }
      const head = page.text.split('\n').slice(0, 3).join('\n'); // usage and description
      if (envName.test(head)) problems.push(`${name(page.path)}: ${head}`);
    }
    expect(problems).toEqual([]);
  });

  it('names the variables the code reads itself: lists, _FILE secrets, switches', () => {
    const env = (path: string[], flag: string) =>
      /\benv: ([^()]*)\)$/.exec(pageOf(path)!.options.find((o) => o.flags.includes(flag))?.description ?? '')?.[1];
    expect(env(['serve'], '--webhook-secret')).toBe('DOCV_WEBHOOK_SECRETS or DOCV_WEBHOOK_SECRETS_FILE');
    expect(env(['serve'], '--basic-auth')).toBe('DOCV_WEBHOOK_BASIC_AUTH or DOCV_WEBHOOK_BASIC_AUTH_FILE');
    expect(env(['serve'], '--signing-secret')).toBe(
      'DOCV_WEBHOOK_SIGNING_SECRETS or DOCV_WEBHOOK_SIGNING_SECRETS_FILE',
    );
    expect(env(['serve'], '--allow-ip')).toBe('DOCV_ALLOWED_IPS or DOCV_ALLOWED_IPS_FILE');
    expect(env(['serve'], '--admin-token')).toBe('DOCV_ADMIN_TOKEN or DOCV_ADMIN_TOKEN_FILE');
    expect(env(['serve'], '--trust-proxy')).toBe('DOCV_TRUST_PROXY');
    expect(env(['serve'], '--sqlite-writer-thread')).toBe('DOCV_SQLITE_WRITER_THREAD');
    for (const path of [['serve'], ['worker']]) {
      expect(env(path, '--forward-url')).toBe('DOCV_FORWARD_URLS or DOCV_FORWARD_URLS_FILE');
      expect(env(path, '--forward-signing-secret')).toBe(
        'DOCV_FORWARD_SIGNING_SECRET or DOCV_FORWARD_SIGNING_SECRET_FILE',
      );
      expect(env(path, '--socure-api-key')).toBe('SOCURE_API_KEY or SOCURE_API_KEY_FILE');
      expect(env(path, '--store-document-data')).toBe('DOCV_STORE_DOCUMENT_DATA');
    }
  });

  it('shows the default of every flag that has one, also where the code works it out', () => {
    const shown = (path: string[], flag: string) =>
      /\(.*\bdefault: (.*?)(?:, env: [^()]*)?\)$/.exec(
        pageOf(path)!.options.find((o) => o.flags.includes(flag))?.description ?? '',
      )?.[1];
    const dispatch = {
      '--forward-timeout': '15s',
      '--retry-schedule': '1s doubling to 1h',
      '--max-attempts': '15; with --retry-schedule its steps + 1',
      '--concurrency': '16',
      '--decision-pending-max': '10m',
      '--socure-api': '"idplus"',
    };
    const expected: Array<[string[], Record<string, string>]> = [
      [
        ['serve'],
        {
          ...dispatch,
          '--port': '3000',
          '--host': '"127.0.0.1"',
          '--db': '"sqlite:./data/docv-webhooks.db"',
          '--signature-tolerance': '300',
          '--auth-failure-limit': '10',
          '--log-level': '"info"',
          '--log-format': 'pretty on a terminal; json otherwise',
          '--dialect': "each delivery's shape picks one",
        },
      ],
      [['worker'], { ...dispatch, '--db': '"sqlite:./data/docv-webhooks.db"', '--metrics-host': '"127.0.0.1"' }],
      [
        ['sandbox'],
        {
          '--port': '4010',
          '--db': '"sqlite:data/sandbox.db"',
          '--retry-schedule': '5s,5m,30m,2h,5h,10h,10h',
          '--timeout': '15s',
          '--api-key': 'made up and printed',
        },
      ],
      [
        ['simulate'],
        { '--retry-schedule': '200ms,1s,5s', '--max-duration': '10m', '--rate': 'no limit', '--concurrency': '8' },
      ],
      [['trigger'], { '--retry-schedule': 'none', '--transaction': 'a new UUID', '--decision': 'accept' }],
      [['validate'], { '--dialect': 'its shape picks one' }],
      [['quarantine', 'reprocess'], { '--url': '"http://127.0.0.1:3000"', '--max': '100' }],
    ];
    for (const [path, flags] of expected) {
      for (const [flag, value] of Object.entries(flags)) expect(shown(path, flag), `${name(path)} ${flag}`).toBe(value);
    }
  });

  it('gives examples that parse: known options, valid values, the arguments the command takes', async () => {
    const failures: string[] = [];
    for (const example of pages.flatMap((p) => p.examples)) {
      const outcome = await parseOnly(cliArgs(example));
      if (outcome !== 'parsed') failures.push(`${example}\n  ${outcome}`);
    }
    expect(failures).toEqual([]);
  });
});

class Parsed extends Error {}

/** Parses a command line as the CLI would, stopping before any command runs. */
async function parseOnly(args: string[]): Promise<string> {
  const program: Command = await buildProgram();
  const silence = (command: Command): void => {
    command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    command.commands.forEach(silence);
  };
  silence(program);
  program.hook('preAction', () => {
    throw new Parsed();
  });
  try {
    await program.parseAsync(args, { from: 'user' });
    return 'ran to the end without reaching a command';
  } catch (err) {
    if (err instanceof Parsed) return 'parsed';
    return err instanceof CommanderError ? `${err.code}: ${err.message}` : String(err);
  }
}

describe('tables', () => {
  /** The header and the rule under it: column names, and dashes starting where each name starts. */
  function headerAndRule(text: string): { names: string[]; aligned: boolean } {
    const [header = '', rule = ''] = text.split('\n');
    const names = header.split(/ {2,}/);
    const starts = (line: string, pattern: RegExp) => [...line.matchAll(pattern)].map((m) => m.index);
    const aligned =
      /^-+(?: {2,}-+)*$/.test(rule) && JSON.stringify(starts(rule, /-+/g)) === JSON.stringify(starts(header, /\S+/g));
    return { names, aligned };
  }

  it("the sandbox's deliveries and the receiver's listings share one style: camelCase names over a rule of dashes", async () => {
    const sink = await startSink();
    const sandbox = await startSandbox({ apiKey: 'k', db: 'sqlite::memory:', logLevel: 'silent' });
    try {
      const api = sandboxClient(sandbox);
      const id = (await api.create({ webhookUrl: sink.url })).json.docvTransactionId as string;
      await api.emit(id, { eventType: 'APP_OPENED' });
      await eventually(
        async () =>
          ((await api.deliveries(`?transaction=${id}&status=delivered`)).json.deliveries as unknown[]).length === 1,
        'one delivered',
      );
      const db = `sqlite:${join(newDir(), 'receiver.db')}`;
      expect((await runCli(['destinations', 'add', 'http://127.0.0.1:8080/docv', '--db', db])).code).toBe(0);

      const sandboxList = await runCli(['deliveries', '--sandbox', sandbox.url, '--api-key', 'k', '--transaction', id]);
      const receiverList = await runCli(['destinations', 'list', '--db', db]);
      for (const [what, result] of [
        ['deliveries --sandbox', sandboxList],
        ['destinations list', receiverList],
      ] as const) {
        expect(result.code, `${what}: ${result.stderr}`).toBe(0);
        const { names, aligned } = headerAndRule(result.stdout);
        expect(aligned, `${what}:\n${result.stdout}`).toBe(true);
        for (const column of names) expect(column, what).toMatch(/^[a-z][A-Za-z]*$/);
      }
      expect(headerAndRule(sandboxList.stdout).names).toEqual([
        'id',
        'docvTransactionId',
        'eventType',
        'status',
        'attempts',
        'last',
        'next',
      ]);
      expect(sandboxList.stdout.split('\n')[2]).toMatch(new RegExp(`^\\d+ +${id} +APP_OPENED +delivered +1 +200 +-$`));
    } finally {
      await sandbox.close();
      await sink.close();
    }
  });
});
