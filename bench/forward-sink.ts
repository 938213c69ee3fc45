import { createServer } from 'node:http';
import { acceptedBody, answerJson, listenOnLoopback } from './script-server.js';
import { LatencyRecorder } from './stats.js';

/**
 * The destination of the delivery sections: the bare server's answer, plus a note of when each
 * forwarded event first arrived. The forward body carries the event's id and the receiver's
 * receipt time (`receivedAt`, dispatch/destinations/forward.ts), so the delivery lag is the
 * arrival here less that receipt, on the same machine's clock. A retry of an event already seen
 * counts as a request, not as a second event.
 *
 *   POST <any path>        a forwarded event: recorded, answered 200
 *   GET /count             { events, requests, unreadable, lastArrivalMs }
 *   GET /lags?from=&to=    lag summary (ms) of the events the receiver received in [from, to] (epoch ms)
 *   GET <anything else>    200 (ready)
 *
 * Usage: node --import tsx bench/forward-sink.ts <port>
 */
const port = Number(process.argv[2] ?? 0);

/** Epoch milliseconds with the fraction: the receiver's receipt time is whole milliseconds. */
const now = () => performance.timeOrigin + performance.now();

/** First arrival of each event: receipt time at the receiver, arrival here (both epoch ms). */
const seen = new Map<string, { receivedAt: number; arrivedAt: number }>();
let requests = 0;
/** Bodies without an event id or a receipt time: a forward body this sink cannot read. */
let unreadable = 0;
let lastArrivalMs = 0;

// JSON.stringify of forwardBody puts eventId first; the receipt time follows the transaction id.
// A regex keeps the sink's cost per event near the bare server's; JSON.parse is the fallback.
const EVENT_ID = /^\{"eventId":"([^"]+)"/;
const RECEIVED_AT = /,"receivedAt":"([^"]+)"/;

function record(body: string): void {
  requests++;
  let eventId = EVENT_ID.exec(body)?.[1];
  let receivedAt = RECEIVED_AT.exec(body)?.[1];
  if (eventId === undefined || receivedAt === undefined) {
    try {
      const parsed = JSON.parse(body) as { eventId?: unknown; receivedAt?: unknown };
      eventId = typeof parsed.eventId === 'string' ? parsed.eventId : undefined;
      receivedAt = typeof parsed.receivedAt === 'string' ? parsed.receivedAt : undefined;
    } catch {
      // counted below
    }
  }
  const received = receivedAt === undefined ? NaN : Date.parse(receivedAt);
  if (eventId === undefined || Number.isNaN(received)) {
    unreadable++;
    return;
  }
  if (seen.has(eventId)) return;
  lastArrivalMs = now();
  seen.set(eventId, { receivedAt: received, arrivedAt: lastArrivalMs });
}

function lags(from: number, to: number): string {
  const recorder = new LatencyRecorder();
  for (const { receivedAt, arrivedAt } of seen.values()) {
    if (receivedAt >= from && receivedAt <= to) recorder.record(arrivedAt - receivedAt);
  }
  return JSON.stringify({ count: recorder.count, ...recorder.summary(), lastArrivalMs });
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method === 'POST') {
      const body = Buffer.concat(chunks);
      record(body.toString('utf8'));
      return answerJson(res, 200, acceptedBody(body.length));
    }
    const url = new URL(req.url ?? '/', 'http://sink');
    if (url.pathname === '/count')
      return answerJson(res, 200, JSON.stringify({ events: seen.size, requests, unreadable, lastArrivalMs }));
    if (url.pathname === '/lags')
      return answerJson(res, 200, lags(Number(url.searchParams.get('from')), Number(url.searchParams.get('to'))));
    answerJson(res, 200, '{"ok":true}');
  });
});
listenOnLoopback(server, port);
