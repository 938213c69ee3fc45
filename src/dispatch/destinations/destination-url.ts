import { redactUrl } from '../../auth/redact-url.js';
import { BROKER_SCHEMES, brokerTransportOf, type BrokerTransportName } from './brokers/index.js';
import { forwardDestinationName } from './forward.js';

/** A forward URL as the store keeps it (store/destinations.ts). */
export interface StoredForwardUrl {
  name: string;
  /** Without user:password: the store never holds a credential. */
  url: string;
  /** It had user:password, so only a process given the whole URL can deliver to it. */
  urlCredentials: boolean;
  /** What delivers it, by the URL's scheme: an HTTP POST, or a broker (issue 21). */
  transport: 'http' | BrokerTransportName;
}

/** Reads a forward URL (http(s), or a broker's: issue 21) for the store; throws a TypeError that says what is wrong with it. */
export function storedForwardUrl(url: string): StoredForwardUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`forward URL "${shownUrl(url)}" is not a valid URL`);
  }
  // As parsed: a space or quote inside a password is percent-encoded there, so redaction finds its end.
  const broker = brokerTransportOf(u);
  if (!broker && !/^https?:$/.test(u.protocol))
    throw new TypeError(
      `forward URL "${shownUrl(u.href)}" must be http(s) or a broker's (${BROKER_SCHEMES.join(', ')})`,
    );
  // The broker's own checks (exchange, subject, stream, options) name what is wrong; its name
  // says where messages go, never a credential.
  const name = broker ? broker.nameOf(u) : forwardDestinationName(url);
  const urlCredentials = u.username !== '' || u.password !== '';
  u.username = '';
  u.password = '';
  return { name, url: u.toString(), urlCredentials, transport: broker?.transport ?? 'http' };
}

/** For messages about a URL that may not even parse: userinfo and secret parameters hidden, bounded. */
function shownUrl(url: string): string {
  return redactUrl(url).slice(0, 300);
}

/** The transport of a URL as stored or given: `http` for http(s), else the broker its scheme names. */
export function transportOfUrl(url: string): 'http' | BrokerTransportName {
  return brokerTransportOf(new URL(url))?.transport ?? 'http';
}
