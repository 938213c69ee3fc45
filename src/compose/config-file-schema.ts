import { Ajv, type ErrorObject } from 'ajv';
import { DIALECTS } from '../contract/index.js';
import { closestWord } from './closest-word.js';

/**
 * The shape of `docv-webhooks.yaml` as a JSON Schema: every object closed (additionalProperties
 * false), so a misspelt key is an error on its own line rather than a setting silently left out.
 * Only the shape: names, paths, secrets, URLs and ages are read and checked after it
 * (config-file.ts, sources.ts), where the messages can say more than a schema's.
 *
 * `description` is what a type error says the value must be.
 */

const SECRET = {
  description: 'a secret: a string, {env: NAME} or {file: /path}',
  type: ['string', 'object'],
  minLength: 1,
  properties: {
    env: { description: 'an environment variable name', type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    file: { description: 'a file name', type: 'string', minLength: 1 },
  },
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
} as const;

const SECRET_LIST = { description: 'a list of secrets', type: 'array', minItems: 1, items: SECRET } as const;

const RETENTION = {
  description: 'a policy such as raw=30d,events=400d, or {raw: 30d, events: 400d, quarantine: 14d}',
  type: ['string', 'object'],
  properties: {
    raw: { description: 'an age such as 30d', type: 'string' },
    events: { description: 'an age such as 400d', type: 'string' },
    quarantine: { description: 'an age such as 14d', type: 'string' },
  },
  additionalProperties: false,
} as const;

const STRING_LIST = {
  description: 'a list of strings',
  type: 'array',
  minItems: 1,
  items: { type: 'string' },
} as const;

const SOURCE = {
  description: 'a source: {name, path, auth, …}',
  type: 'object',
  required: ['name', 'path'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    path: { type: 'string' },
    environment: { description: 'a label such as Production', type: 'string', minLength: 1, maxLength: 64 },
    dialect: { enum: [...DIALECTS] },
    auth: {
      description: 'the credentials: {webhookSecrets, basicAuth, signingSecrets, signatureToleranceSeconds, allowIps}',
      type: 'object',
      additionalProperties: false,
      properties: {
        webhookSecrets: SECRET_LIST,
        basicAuth: SECRET_LIST,
        signingSecrets: SECRET_LIST,
        signatureToleranceSeconds: { description: 'a whole number of seconds', type: 'integer', minimum: 1 },
        allowIps: { ...STRING_LIST, description: 'a list of addresses or CIDRs' },
      },
    },
    retention: RETENTION,
    socure: {
      description: "the source's decision fetch: {apiKey, baseUrl}",
      type: 'object',
      required: ['baseUrl', 'apiKey'],
      additionalProperties: false,
      properties: { baseUrl: { description: 'an http(s) URL', type: 'string' }, apiKey: SECRET },
    },
  },
} as const;

const DESTINATION = {
  description: 'a destination: {url, sources, eventTypes}',
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    url: { description: "an http(s) URL, or a broker's (amqp, nats, redis)", type: 'string' },
    sources: { ...STRING_LIST, description: 'a list of source names' },
    eventTypes: { ...STRING_LIST, description: 'a list of event types' },
  },
} as const;

export const CONFIG_FILE_SCHEMA = {
  description: 'a mapping of sources, destinations and retention',
  type: 'object',
  additionalProperties: false,
  properties: {
    retention: RETENTION,
    sources: { description: 'a list of sources', type: 'array', minItems: 1, items: SOURCE },
    destinations: { description: 'a list of destinations', type: 'array', items: DESTINATION },
  },
} as const;

// verbose: each error carries its schema object (its description, the keys it knows) and the value.
const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true });
const validate = ajv.compile(CONFIG_FILE_SCHEMA);

/** One thing wrong with the shape; `onKey`: the position is the key's (an unknown key), not the value's. */
export interface ShapeProblem {
  path: Array<string | number>;
  message: string;
  onKey?: boolean;
}

/** Every way `data` departs from the schema, in words a person reads next to the line. */
export function shapeProblems(data: unknown): ShapeProblem[] {
  if (validate(data)) return [];
  return (validate.errors ?? []).flatMap((error) => {
    const problem = describe(error, segmentsOf(error.instancePath, data));
    return problem ? [problem] : [];
  });
}

/** `/sources/0/auth` → ['sources', 0, 'auth'], numbers where the value there is a list. */
function segmentsOf(pointer: string, data: unknown): Array<string | number> {
  const segments: Array<string | number> = [];
  let value = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const segment = Array.isArray(value) && /^\d+$/.test(key) ? Number(key) : key;
    segments.push(segment);
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  return segments;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  object: 'a mapping',
  array: 'a list',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
};

function describe(error: ErrorObject, path: Array<string | number>): ShapeProblem | null {
  const schema = (error.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown> };
  const what = schema.description;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys(schema.properties ?? {});
      const meant = closestWord(key, known);
      return {
        path: [...path, key],
        onKey: true,
        message: `unknown key "${key.slice(0, 80)}"${meant ? `; did you mean ${meant}?` : ''} (${known.length ? `known: ${known.join(', ')}` : 'none is known here'})`,
      };
    }
    case 'required':
      return { path, message: `"${(error.params as { missingProperty: string }).missingProperty}" is missing` };
    case 'type': {
      const types = ([] as string[]).concat((error.params as { type: string | string[] }).type);
      const expected = what ?? types.map((t) => TYPE_WORDS[t] ?? t).join(' or ');
      // A secret or a name YAML read as a number: the value is not quoted here, it may be a secret.
      const hint =
        typeof error.data === 'number' && types.includes('string') ? ' (quote a value YAML reads as a number)' : '';
      return { path, message: `must be ${expected}${hint}` };
    }
    case 'enum':
      return {
        path,
        message: `"${String(error.data).slice(0, 80)}" is not one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`,
      };
    case 'minItems':
      return { path, message: 'is an empty list: leave the key out instead' };
    case 'minLength':
      return { path, message: 'is empty' };
    case 'maxLength':
      return { path, message: `is longer than ${(error.params as { limit: number }).limit} characters` };
    case 'minimum':
      return { path, message: `must be at least ${(error.params as { limit: number }).limit}` };
    case 'minProperties':
    case 'maxProperties':
      return { path, message: 'give one of {env: NAME} or {file: /path}' };
    case 'pattern':
      return { path, message: `must be ${what ?? 'of another form'}` };
    default:
      return { path, message: error.message ?? `fails ${error.keyword}` };
  }
}
