import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export interface HttpSink {
  url: string;
  requests: SinkRequest[];
  /** Decide the answer per request; default 200. */
  respond: (req: SinkRequest, res: ServerResponse) => void;
  close(): Promise<void>;
}

/** A real local HTTP server that records what it receives. */
export async function startSink(respond?: HttpSink['respond']): Promise<HttpSink> {
  const sink: HttpSink = {
    url: '',
    requests: [],
    respond: respond ?? ((_req, res) => res.writeHead(200).end('ok')),
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      sink.requests.push(record);
      sink.respond(record, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sink.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return sink;
}
