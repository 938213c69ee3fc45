import type { Options } from 'amqplib';
import { redactUrl } from '../../../auth/redact-url.js';
import { checkTemplate } from './message.js';

/** Where messages go when the URL names no routing key: a topic exchange's consumers bind `docv.#` or `docv.*.accept`. */
export const DEFAULT_ROUTING_KEY = 'docv.{eventType}.{decision}';

/** The query options a RabbitMQ destination URL takes; any other is refused, so a typo is not ignored. */
const OPTIONS = ['exchange', 'routingKey'] as const;

/** AMQP 0-9-1 short strings: an exchange name and a routing key are at most 255 bytes. */
export const MAX_NAME_BYTES = 255;

/** A RabbitMQ destination URL, read: `amqp[s]://user:pass@host:5672/<vhost>?exchange=<template>&routingKey=<template>`. */
export interface RabbitmqTarget {
  /** What amqplib connects with, credentials included: never printed. */
  connect: Options.Connect;
  /** `host:port/vhost` (the vhost as a URL writes it, `/` as %2F): for the name and for messages. */
  where: string;
  /** Exchange and routing key templates (message.ts renderTemplate). */
  exchange: string;
  routingKey: string;
}

/**
 * Reads a RabbitMQ destination URL. Throws a TypeError saying what is wrong with it (a missing
 * exchange, an unknown or repeated option, a template naming an unknown field, a vhost of two path
 * segments), quoting the URL without its credentials.
 */
export function readRabbitmqUrl(url: URL): RabbitmqTarget {
  const tls = url.protocol === 'amqps:';
  const port = url.port === '' ? (tls ? 5671 : 5672) : Number(url.port);
  const hostPort = `${url.hostname}:${port}`;
  // The URL as messages show it: no user:password, no query (a routing key would be hidden as a "key").
  const shown = redactUrl(`${url.protocol}//${hostPort}${url.pathname}`);
  if (url.hostname === '') throw new TypeError(`RabbitMQ URL ${shown} names no host`);
  // An empty fragment (`routingKey=docv.#`) leaves url.hash empty, but not the href.
  if (url.hash !== '' || url.href.endsWith('#'))
    throw new TypeError(`RabbitMQ URL ${shown} has a #fragment: a # inside an exchange or routing key is written %23`);

  const names = [...url.searchParams.keys()];
  const unknown = [...new Set(names.filter((n) => !(OPTIONS as readonly string[]).includes(n)))];
  if (unknown.length > 0)
    throw new TypeError(
      `RabbitMQ URL ${shown}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')} (it takes ${OPTIONS.join(' and ')})`,
    );
  for (const option of OPTIONS)
    if (url.searchParams.getAll(option).length > 1) throw new TypeError(`RabbitMQ URL ${shown} gives ${option} twice`);

  const exchange = url.searchParams.get('exchange');
  // The default exchange ("") routes by queue name only: naming an exchange is asked for, so a
  // destination never publishes into a queue by accident.
  if (exchange === null || exchange === '')
    throw new TypeError(
      `RabbitMQ URL ${shown} needs ?exchange=<name or template>: the exchange messages are published to`,
    );
  // An empty routing key is allowed: fanout and headers exchanges ignore it.
  const routingKey = url.searchParams.get('routingKey') ?? DEFAULT_ROUTING_KEY;
  checkTemplate(exchange, 'exchange');
  checkTemplate(routingKey, 'routing key');
  for (const [what, template] of [
    ['exchange', exchange],
    ['routing key', routingKey],
  ] as const) {
    if (Buffer.byteLength(template.replace(/\{[^{}]*\}/g, '')) > MAX_NAME_BYTES)
      throw new TypeError(`the ${what} "${template.slice(0, 60)}…" is longer than AMQP's ${MAX_NAME_BYTES} bytes`);
  }

  const vhost = readVhost(url.pathname, shown);
  const username = url.username === '' && url.password === '' ? undefined : decode(url.username, shown);
  return {
    connect: {
      protocol: tls ? 'amqps' : 'amqp',
      // amqplib wants an IPv6 address without its brackets.
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      // Neither given: amqplib's guest/guest, as for a URL without userinfo.
      ...(username !== undefined ? { username, password: decode(url.password, shown) } : {}),
      // amqplib unescapes the vhost it is given (querystring.unescape): hand it over escaped.
      vhost: encodeURIComponent(vhost),
    },
    where: `${hostPort}/${encodeURIComponent(vhost)}`,
    exchange,
    routingKey,
  };
}

/** The destination's name: where, and what picks the exchange and routing key; never a credential. */
export function rabbitmqDestinationName(target: RabbitmqTarget): string {
  return `rabbitmq:${target.where}/${target.exchange}/${target.routingKey}`;
}

/**
 * The vhost is the path's one segment, percent-decoded (the AMQP URI spec): `/%2F` is RabbitMQ's
 * default vhost `/`, and so is an empty path (amqplib's default).
 */
function readVhost(pathname: string, shown: string): string {
  const segment = pathname.replace(/^\//, '');
  if (segment === '') return '/';
  if (segment.includes('/'))
    throw new TypeError(`RabbitMQ URL ${shown}: the vhost is one path segment (write a / inside it as %2F)`);
  return decode(segment, shown);
}

function decode(text: string, shown: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new TypeError(`RabbitMQ URL ${shown} has a malformed %-escape`);
  }
}
