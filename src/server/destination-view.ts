import { redactUrl } from '../auth/redact-url.js';

/**
 * A destination as it is shown (`GET /v1/destinations`, `docv-webhooks destinations`): the store
 * keeps a forward URL's query (a process needs all of it to deliver), and a query may hold a
 * token (`?token=…`, `?sig=…`), so what is shown has those values as ***, like every URL printed.
 */
export function shownDestination<T extends { url: string }>(destination: T): T {
  return { ...destination, url: redactUrl(destination.url) };
}
