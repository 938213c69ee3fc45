import { checkTemplate } from './message.js';

/**
 * What a `nats://[user:pass@]host:4222?subject=<template>[&stream=<name>]` URL says: the server,
 * how to log in, the subject template every message is published to, and the stream JetStream
 * must store it in (when given, a message some other stream captures is refused rather than
 * silently stored elsewhere).
 */
export interface NatsTarget {
  host: string;
  port: number;
  /** user:pass in the URL; a user name alone is a token (`nats://<token>@host`, as the nats CLI reads it). */
  auth: { user: string; pass: string } | { token: string } | null;
  subjectTemplate: string;
  stream: string | undefined;
}

export const NATS_DEFAULT_PORT = 4222;

const OPTIONS = ['subject', 'stream'] as const;

/** Reads a NATS destination URL; throws a TypeError saying what is wrong with it. */
export function natsTarget(url: URL): NatsTarget {
  if (url.protocol !== 'nats:')
    throw new TypeError(`a NATS destination URL starts with nats:// (not ${url.protocol}//)`);
  if (url.hostname === '') throw new TypeError('a NATS destination URL needs a host: nats://host:4222?subject=…');
  if (url.pathname !== '' && url.pathname !== '/')
    throw new TypeError(
      `a NATS destination URL has no path (it has ${JSON.stringify(url.pathname)}): the subject is the subject= option`,
    );
  const unknown = [...new Set(url.searchParams.keys())].filter((k) => !(OPTIONS as readonly string[]).includes(k));
  if (unknown.length)
    throw new TypeError(
      `NATS destination URL: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (it takes ${OPTIONS.join(', ')})`,
    );
  for (const option of OPTIONS)
    if (url.searchParams.getAll(option).length > 1)
      throw new TypeError(`NATS destination URL: ${option}= is given more than once`);

  const subjectTemplate = url.searchParams.get('subject');
  if (!subjectTemplate)
    throw new TypeError(
      'a NATS destination URL needs subject=<template> (the subject to publish to, e.g. docv.{eventType}.{decision})',
    );
  checkTemplate(subjectTemplate, 'NATS subject');
  checkSubject(subjectTemplate);

  const stream = url.searchParams.get('stream') ?? undefined;
  if (stream !== undefined) checkStreamName(stream);

  return {
    host: url.hostname,
    port: url.port === '' ? NATS_DEFAULT_PORT : Number(url.port),
    auth: authOf(url),
    subjectTemplate,
    stream,
  };
}

/** `host:port` (an IPv6 host keeps its brackets, as URL.hostname has it). */
export function natsAddress(target: Pick<NatsTarget, 'host' | 'port'>): string {
  return `${target.host}:${target.port}`;
}

/** `nats:<host:port>/<subject template>`: where messages go, never a credential. */
export function natsDestinationName(url: URL): string {
  const target = natsTarget(url);
  return `nats:${natsAddress(target)}/${target.subjectTemplate}`;
}

/**
 * A subject is published to, so it has no wildcards, no empty token and no white space. The
 * template's fields are rendered token-safe (tokenSafe), so only its fixed text needs checking.
 */
function checkSubject(template: string): void {
  const fixed = template.replace(/\{[^{}]*\}/g, 'x');
  const problem = /\s/.test(fixed)
    ? 'contains white space'
    : /[*>]/.test(fixed)
      ? 'contains a wildcard (* or >): a message is published to one subject'
      : fixed.split('.').some((token) => token === '')
        ? 'has an empty token (a leading, trailing or doubled .)'
        : null;
  if (problem) throw new TypeError(`NATS subject "${template}" ${problem}`);
}

/** JetStream's rule for stream names: no white space, `.`, `*`, `>` or path separators. */
function checkStreamName(stream: string): void {
  if (stream === '') throw new TypeError('NATS destination URL: stream= is empty (leave it out, or name the stream)');
  if (/[\s.*>/\\]/.test(stream))
    throw new TypeError(`NATS stream name "${stream}" may not contain white space, ., *, >, / or \\`);
}

function authOf(url: URL): NatsTarget['auth'] {
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if (user === '' && pass === '') return null;
  if (user === '')
    throw new TypeError('a NATS destination URL with a password needs a user name (nats://user:pass@host)');
  return pass === '' ? { token: user } : { user, pass };
}
