import { checkTemplate } from './message.js';

/**
 * A Redis Streams destination URL: `redis[s]://[[user]:pass@]host[:6379][/<db>]?stream=<template>[&maxlen=<n>]`.
 * `stream` names the stream key (a template: `docv.{eventType}`), `maxlen` caps it with
 * `XADD … MAXLEN ~ <n>` (0: no cap), so a stream nobody reads does not fill the server's memory.
 */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  tls: boolean;
  /** Redis 6 ACL user; absent for the `default` user (`redis://:pass@host`). */
  username: string | undefined;
  password: string | undefined;
  streamTemplate: string;
  /** 0: the stream is not trimmed. */
  maxlen: number;
}

export const REDIS_DEFAULT_PORT = 6379;
export const REDIS_DEFAULT_MAXLEN = 100_000;

const OPTIONS = ['stream', 'maxlen'] as const;

/** Reads a redis(s) URL; throws a TypeError naming what is wrong, never quoting a credential. */
export function redisTarget(url: URL): RedisTarget {
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new TypeError(`a Redis Streams URL starts with redis:// or rediss://, not ${url.protocol}//`);
  // URL keeps an IPv6 literal's brackets in hostname; a socket wants the address alone.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new TypeError('a Redis Streams URL needs a host: redis://host:6379?stream=<name>');

  const params = url.searchParams;
  const unknown = [...new Set(params.keys())].filter((k) => !(OPTIONS as readonly string[]).includes(k));
  if (unknown.length > 0)
    throw new TypeError(
      `a Redis Streams URL takes the options ${OPTIONS.join(', ')}; unknown: ${unknown.map((k) => JSON.stringify(k)).join(', ')}`,
    );
  for (const option of OPTIONS) {
    if (params.getAll(option).length > 1) throw new TypeError(`a Redis Streams URL gives ${option}= more than once`);
  }

  const streamTemplate = params.get('stream') ?? '';
  if (streamTemplate === '')
    throw new TypeError(
      'a Redis Streams URL needs the stream to add to: ?stream=<name or template, e.g. docv.{eventType}>',
    );
  checkTemplate(streamTemplate, 'stream');

  return {
    host,
    port: url.port === '' ? REDIS_DEFAULT_PORT : Number(url.port),
    db: databaseOf(url.pathname),
    tls: url.protocol === 'rediss:',
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    streamTemplate,
    maxlen: maxlenOf(params.get('maxlen')),
  };
}

/** `redis:<host:port>/<db>/<stream template>`: where messages go, never a credential. */
export function redisDestinationName(url: URL): string {
  const t = redisTarget(url);
  return `redis:${redisAddress(t)}/${t.db}/${t.streamTemplate}`;
}

/** host:port as messages show it (an IPv6 address in brackets). */
export function redisAddress(t: Pick<RedisTarget, 'host' | 'port'>): string {
  return `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

/** The path names the logical database, as redis-cli and every client read it: `/2`; none is 0. */
function databaseOf(pathname: string): number {
  if (pathname === '' || pathname === '/') return 0;
  const m = /^\/(\d{1,9})$/.exec(pathname);
  if (!m)
    throw new TypeError(
      `the path of a Redis Streams URL is the database number (/0, /1…), not ${JSON.stringify(pathname)}`,
    );
  return Number(m[1]);
}

function maxlenOf(value: string | null): number {
  if (value === null) return REDIS_DEFAULT_MAXLEN;
  if (!/^\d{1,15}$/.test(value))
    throw new TypeError(`maxlen= is the number of entries a stream keeps (0: no cap), not ${JSON.stringify(value)}`);
  return Number(value);
}
