import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * The package as an installed user sees it: `docv-webhooks` and its subpaths resolved by name
 * through package.json `exports`, against the built package (dist/, built by
 * test/global-setup.ts), each import in a fresh process. The root entry must load no database
 * driver and no HTTP server: a resolve hook records every module the import asks for, and the
 * CommonJS cache (where better-sqlite3, pg and fastify land) is read after it.
 */

const run = promisify(execFile);
const HEAVY = ['better-sqlite3', 'pg', 'fastify'] as const;

const ROOT_NAMES = [
  'CANONICAL_DECISIONS',
  'DEFAULT_WEBHOOK_PATH',
  'DIALECTS',
  'DocvWebhookError',
  'KNOWN_EVENT_TYPES',
  'createDocvReceiver',
  'foldLifecycle',
  'parseDelivery',
  'signStandardWebhook',
  'verifyDocvWebhook',
];

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'docv-package-'));
  // As installed: `docv-webhooks` resolves to this package through node_modules.
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'docv-webhooks'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}
`,
  );
  // Imports one specifier and prints its runtime names, how long the import took, and what it loaded.
  writeFileSync(
    join(dir, 'probe.mjs'),
    `import { register, createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
const [specifier, out] = process.argv.slice(2);
writeFileSync(out, '');
register(new URL('./hooks.mjs', import.meta.url), { data: { out } });
const started = performance.now();
const module = await import(specifier);
const ms = performance.now() - started;
const resolved = readFileSync(out, 'utf8').split('\\n').filter(Boolean);
const commonJs = Object.keys(createRequire(import.meta.url).cache);
console.log(JSON.stringify({ names: Object.keys(module).sort(), ms, loaded: [...resolved, ...commonJs] }));
`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function probe(specifier: string): Promise<{ names: string[]; ms: number; loaded: string[] }> {
  const out = join(dir, `loaded-${specifier.replace(/\W/g, '_')}.txt`);
  const { stdout } = await run(process.execPath, ['probe.mjs', specifier, out], { cwd: dir });
  return JSON.parse(stdout) as { names: string[]; ms: number; loaded: string[] };
}

function heavyModules(loaded: readonly string[]): string[] {
  const found = new Set<string>();
  for (const path of loaded) for (const name of HEAVY) if (path.includes(`/node_modules/${name}/`)) found.add(name);
  return [...found].sort();
}

describe('the root entry', () => {
  it(
    'has the ten runtime names of library.md and loads no database driver or HTTP server',
    { timeout: 30_000 },
    async () => {
      const root = await probe('docv-webhooks');
      expect(root.names).toEqual(ROOT_NAMES);
      expect(heavyModules(root.loaded)).toEqual([]);
      // Nor this package's driver-bound code.
      expect(root.loaded.filter((url) => /\/dist\/(store\/(sqlite|postgres)|server|sandbox)\//.test(url))).toEqual([]);
      console.log(`import('docv-webhooks'): ${root.ms.toFixed(0)} ms, ${root.loaded.length} modules`);
    },
  );

  it(
    'the probe sees drivers where they are loaded: /server loads fastify, better-sqlite3 and pg',
    { timeout: 30_000 },
    async () => {
      const server = await probe('docv-webhooks/server');
      expect(heavyModules(server.loaded)).toEqual(['better-sqlite3', 'fastify', 'pg']);
      console.log(`import('docv-webhooks/server'): ${server.ms.toFixed(0)} ms`);
    },
  );
});

describe('the subpaths resolve through package.json exports', () => {
  it.each([
    ['docv-webhooks/server', ['startReceiver', 'startWorker'], null],
    [
      'docv-webhooks/store',
      [
        'DEFAULT_DATABASE_URL',
        'DEFAULT_MAX_BODY_BYTES',
        'StoreUnavailableError',
        'createFetchHandler',
        'createInboundAuth',
        'createIngestPipeline',
        'createNodeHandler',
        'openStore',
        'parseRetentionPolicy',
      ],
      [],
    ],
    ['docv-webhooks/sandbox', ['SCENARIOS', 'runSimulation', 'sendEvent', 'startSandbox'], null],
    ['docv-webhooks/testing', ['sampleNotification', 'signStandardWebhook', 'signedDelivery', 'startSandbox'], []],
  ] as const)('%s', { timeout: 30_000 }, async (specifier, names, heavy) => {
    const entry = await probe(specifier);
    expect(entry.names).toEqual(names);
    // /store and /testing load their heavy parts when called, not on import.
    if (heavy !== null) expect(heavyModules(entry.loaded)).toEqual(heavy);
    console.log(`import('${specifier}'): ${entry.ms.toFixed(0)} ms`);
  });

  it('a file of dist/ that is not an entry point cannot be imported', async () => {
    await expect(
      run(process.execPath, ['--input-type=module', '-e', "await import('docv-webhooks/dist/store/open.js')"], {
        cwd: dir,
      }),
    ).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('every entry has its declarations, and a program using them type-checks as a user compiles it', () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { types: string; import: string }>;
      bin: Record<string, string>;
    };
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue;
      expect(existsSync(join(REPO_ROOT, target.types)), `${subpath} types ${target.types}`).toBe(true);
      expect(existsSync(join(REPO_ROOT, target.import)), `${subpath} import ${target.import}`).toBe(true);
    }
    expect(existsSync(join(REPO_ROOT, manifest.bin['docv-webhooks']!))).toBe(true);

    writeFileSync(
      join(dir, 'uses.ts'),
      `import { verifyDocvWebhook, DocvWebhookError, type CanonicalEvent, type DocvWebhookErrorCode } from 'docv-webhooks';
import { startReceiver, type StartReceiverOptions } from 'docv-webhooks/server';
import { openStore, createIngestPipeline, createNodeHandler, type Store } from 'docv-webhooks/store';
import { startSandbox, type SandboxOptions } from 'docv-webhooks/sandbox';
import { sampleNotification, signedDelivery } from 'docv-webhooks/testing';
const { body, headers } = signedDelivery(sampleNotification('riskos', 'evaluation_completed').payload, { signingSecrets: ['whsec_c2VjcmV0'] });
let event: CanonicalEvent | undefined;
try { event = verifyDocvWebhook(body, headers, { signingSecrets: 'whsec_c2VjcmV0' }); } catch (e) { if (e instanceof DocvWebhookError) { const code: DocvWebhookErrorCode = e.code; void code; } }
export const used = [event, startReceiver, openStore, createIngestPipeline, createNodeHandler, startSandbox] as const;
export type Used = [StartReceiverOptions, Store, SandboxOptions];
`,
    );
    const program = ts.createProgram([join(dir, 'uses.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
      skipLibCheck: true,
    });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual(
      [],
    );
  });
});

describe('the root entry at work', () => {
  it(
    'verifies what /testing signs, in each dialect; a receiver loads SQLite only once it opens its store',
    { timeout: 30_000 },
    async () => {
      writeFileSync(
        join(dir, 'at-work.mjs'),
        `import { createRequire } from 'node:module';
import { verifyDocvWebhook, DocvWebhookError, createDocvReceiver } from 'docv-webhooks';
import { sampleNotification, signedDelivery } from 'docv-webhooks/testing';
const secret = 'whsec_' + Buffer.from('a key for the package test').toString('base64');
const events = [];
for (const [dialect, type] of [['asyncapi', 'VERIFICATION_COMPLETED'], ['socure-v5', 'VERIFICATION_COMPLETED'], ['riskos', 'evaluation_completed']]) {
  const { body, headers } = signedDelivery(sampleNotification(dialect, type, { docvTransactionId: 'pkg-1', decision: 'reject' }).payload, { signingSecrets: [secret] });
  const event = verifyDocvWebhook(body, headers, { signingSecrets: secret });
  events.push([event.dialect, event.eventType, event.docvTransactionId, event.decision]);
}
const { body, headers } = signedDelivery({ eventType: 'APP_OPENED' }, { webhookSecret: 'not-it' });
let refused;
try { verifyDocvWebhook(body, headers, { secrets: 'the-secret' }); } catch (e) { refused = e instanceof DocvWebhookError ? e.code : String(e); }
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/node_modules/better-sqlite3/'));
const receiver = createDocvReceiver({ store: 'sqlite::memory:' });
const before = loaded();
await receiver.ready();
const after = loaded();
await receiver.close();
console.log(JSON.stringify({ events, refused, before, after }));
`,
      );
      const { stdout } = await run(process.execPath, ['at-work.mjs'], { cwd: dir });
      expect(JSON.parse(stdout)).toEqual({
        events: [
          ['asyncapi', 'VERIFICATION_COMPLETED', 'pkg-1', 'reject'],
          ['socure-v5', 'VERIFICATION_COMPLETED', 'pkg-1', 'reject'],
          ['riskos', 'evaluation_completed', 'pkg-1', 'reject'],
        ],
        refused: 'unauthenticated',
        before: false,
        after: true,
      });
    },
  );
});
