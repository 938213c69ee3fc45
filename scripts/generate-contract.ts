// Derives the runtime schema and the TypeScript types from spec/asyncapi.yaml, and those of the
// other dialects from spec/dialects/*.yaml, so each shape exists exactly once. `npm run generate` writes src/contract/generated/; a test regenerates in
// memory and fails when the committed output is stale.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { compile } from 'json-schema-to-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SPEC_PATH = join(root, 'spec', 'asyncapi.yaml');
export const GENERATED_DIR = join(root, 'src', 'contract', 'generated');
export const DIALECTS_DIR = join(root, 'spec', 'dialects');
/** The dialect schemas beside the contract, by the dialect name they serve. */
const DIALECT_FILES = { 'socure-v5': 'socure-v5.yaml', riskos: 'riskos.yaml' } as const;

const HEADER = '// GENERATED from spec/asyncapi.yaml by scripts/generate-contract.ts. Do not edit.\n';

interface AsyncApiDoc {
  info: { title: string; version: string };
  servers: Record<string, { url: string; variables?: Record<string, { default?: string }> }>;
  channels: Record<string, { subscribe?: { message?: { oneOf?: { $ref: string }[] } } }>;
  components: {
    messages: Record<string, { name: string; summary?: string; payload: { $ref: string } }>;
    schemas: Record<string, Record<string, unknown>>;
  };
}

function resolveRef<T>(doc: AsyncApiDoc, ref: string): T {
  const parts = ref.replace(/^#\//, '').split('/');
  let node: unknown = doc;
  for (const part of parts) node = (node as Record<string, unknown>)[part];
  if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  return node as T;
}

export async function generate(): Promise<Record<string, string>> {
  const doc = parse(await readFile(SPEC_PATH, 'utf8')) as AsyncApiDoc;
  const [channelName, channel] = Object.entries(doc.channels)[0] ?? [];
  const refs = channel?.subscribe?.message?.oneOf ?? [];
  if (!channelName || refs.length === 0) throw new Error('spec has no subscribe messages');
  const messages = refs.map((r) => resolveRef<AsyncApiDoc['components']['messages'][string]>(doc, r.$ref));
  const payloadRefs = new Set(messages.map((m) => m.payload.$ref));
  if (payloadRefs.size !== 1) throw new Error('expected every message to share one payload schema');
  const payloadRef = [...payloadRefs][0]!;
  const schemaName = payloadRef.split('/').pop()!;
  const schema = resolveRef<Record<string, unknown>>(doc, payloadRef);
  const props = schema.properties as Record<string, { enum?: string[] }>;
  const eventTypes = props.eventType?.enum ?? [];
  const decisions = props.decision?.enum ?? [];
  const messageNames = messages.map((m) => m.name);
  if (JSON.stringify([...messageNames].sort()) !== JSON.stringify([...eventTypes].sort())) {
    throw new Error(`message names ${messageNames} differ from the eventType enum ${eventTypes}`);
  }
  const server = Object.values(doc.servers)[0];
  const defaultUrl = server?.variables ? Object.values(server.variables)[0]?.default : server?.url;
  const webhookPath = defaultUrl ? new URL(defaultUrl).pathname : '/';

  const schemaTs =
    HEADER +
    `export const SPEC_TITLE = ${JSON.stringify(doc.info.title)};\n` +
    `export const SPEC_VERSION = ${JSON.stringify(doc.info.version)};\n` +
    `/** Path of the spec's default server URL: where the receiver listens unless told otherwise. */\n` +
    `export const DEFAULT_WEBHOOK_PATH = ${JSON.stringify(webhookPath)};\n` +
    `export const DOCV_EVENT_TYPES = ${JSON.stringify(eventTypes)} as const;\n` +
    `export const DECISIONS = ${JSON.stringify(decisions)} as const;\n` +
    `export const MESSAGE_SUMMARIES = ${JSON.stringify(Object.fromEntries(messages.map((m) => [m.name, m.summary ?? ''])), null, 2)} as const;\n` +
    `export const ${lowerFirst(schemaName)}Schema = ${JSON.stringify(schema, null, 2)} as const;\n`;

  const typesTs =
    HEADER +
    (await compile(structuredClone(schema) as never, schemaName, {
      bannerComment: '',
      additionalProperties: true,
      strictIndexSignatures: true,
    }));

  return { 'schema.ts': schemaTs, 'types.ts': typesTs, ...(await generateDialects()) };
}

/** One const schema and one type per dialect file: compiled by ajv like the contract, typed like it. */
async function generateDialects(): Promise<Record<string, string>> {
  const header = '// GENERATED from spec/dialects/*.yaml by scripts/generate-contract.ts. Do not edit.\n';
  let schemas = header;
  let types = header;
  for (const [dialect, file] of Object.entries(DIALECT_FILES)) {
    const schema = parse(await readFile(join(DIALECTS_DIR, file), 'utf8')) as Record<string, unknown>;
    const title = schema.title;
    if (typeof title !== 'string') throw new Error(`spec/dialects/${file} has no title`);
    schemas += `/** spec/dialects/${file}: the ${dialect} dialect. */\nexport const ${lowerFirst(title)}Schema = ${JSON.stringify(schema, null, 2)} as const;\n`;
    types += await compile(structuredClone(schema) as never, title, {
      bannerComment: '',
      additionalProperties: true,
      strictIndexSignatures: true,
    });
  }
  return { 'dialect-schemas.ts': schemas, 'dialect-types.ts': types };
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = await generate();
  await mkdir(GENERATED_DIR, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(GENERATED_DIR, name), text);
  console.log(`wrote ${Object.keys(files).join(', ')} to ${GENERATED_DIR}`);
}
