import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a server too heavy to stop and start in a test (RabbitMQ): `cut`
 * makes it look gone (every connection reset, new ones refused), `stall` makes it look hung (the
 * connections stay open, nothing passes either way), `restore` brings it back on the same port.
 */
export interface TcpProxy {
  readonly port: number;
  /** Connections made through it so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly open: number;
  cut(): Promise<void>;
  /** Holds every byte from now on; `restore` passes what was held, in order. */
  stall(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let connections = 0;
  let held: Array<[Socket, Buffer]> | null = null;
  const forward = (from: Socket, to: Socket) =>
    from.on('data', (chunk: Buffer) => {
      if (held) held.push([to, chunk]);
      else to.write(chunk);
    });
  const pipe = (client: Socket) => {
    connections++;
    clients.add(client);
    const upstream = createConnection({ host: targetHost, port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      // A cut or a reset on either side ends both; the error itself is what the client sees.
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        clients.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream);
    forward(upstream, client);
  };
  let server: Server | null = null;
  const listen = async (port: number): Promise<number> => {
    const s = createServer(pipe);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    server = s;
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    return address.port;
  };
  const stop = async () => {
    const s = server;
    server = null;
    held = null;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  const port = await listen(0);
  return {
    port,
    get connections() {
      return connections;
    },
    get open() {
      return clients.size;
    },
    cut: stop,
    stall() {
      held ??= [];
    },
    async restore() {
      const waiting = held ?? [];
      held = null;
      for (const [to, chunk] of waiting) if (!to.destroyed) to.write(chunk);
      if (server) return;
      // The port was free a moment ago; another process taking it meanwhile is unlikely, but retried.
      for (let i = 0; ; i++) {
        try {
          await listen(port);
          return;
        } catch (err) {
          if (i >= 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    close: stop,
  };
}
