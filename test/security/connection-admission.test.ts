import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';
import { count, eventJson, JSON_CT, memoryLogger, newSharedSecret } from './helpers.js';

/**
 * Connection starvation (issue 16): idle sockets held open from one address, or from many, must
 * not leave genuine deliveries with connection resets. Real receivers on loopback; the attacker's
 * sockets are bound to other 127.x addresses (Linux routes all of 127/8 to lo), so the receiver
 * sees them as other clients. The caps are lowered (200 in all, 20 per client) to keep the socket
 * count, and the file descriptors, small: about 400 client sockets and 170 server ones at most.
 */

const TIMEOUTS = {
  // Long enough that the attack's idle sockets stay open for the whole test; the second describe
  // measures how the headers timeout closes them.
  headersMs: 30_000,
  requestMs: 60_000,
  keepAliveMs: 1_000,
  connectionMs: 60_000,
  maxConnections: 200,
  maxConnectionsPerClient: 20,
};
/** maxConnections less the quarter kept for addresses that have delivered successfully. */
const UNRESERVED = 150;
const SENDER = '127.0.0.1';
const ATTACKERS = Array.from({ length: 15 }, (_, i) => `127.0.9.${10 + i}`);
const ATTEMPTS_PER_ATTACKER = 25;
const FDS_NEEDED = 800;

const sockets: Socket[] = [];
afterAll(() => {
  for (const socket of sockets) socket.destroy();
});

function fileDescriptorLimit(): number {
  const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
}

interface IdleClient {
  socket: Socket;
  /** Resolves with the time the server closed it. */
  closed: Promise<number>;
  isOpen(): boolean;
  received(): string;
}

/** A connection from `localAddress` that sends nothing: what the attacker holds. */
function openIdle(port: number, localAddress: string): Promise<IdleClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    sockets.push(socket);
    let received = '';
    let open = true;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk)); // reading, so the server's FIN is seen
    const closed = new Promise<number>((done) =>
      socket.once('close', () => {
        open = false;
        done(Date.now());
      }),
    );
    socket.on('error', () => undefined); // a reset is one way of being closed
    socket.once('connect', () => resolve({ socket, closed, isOpen: () => open, received: () => received }));
    socket.once('error', reject);
  });
}

/** One delivery on a connection of its own (`agent: false`), so each needs a new connection admitted. */
function deliverOnNewConnection(
  url: string,
  localAddress: string,
  authorization: string,
): Promise<{ status: number; text: string }> {
  const body = eventJson();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent: false,
        localAddress,
        headers: { ...JSON_CT, authorization, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.end(body);
  });
}

/** Polls until `check` holds, at most `ms`; returns whether it did. */
async function settle(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

function stillOpen(clients: IdleClient[]): IdleClient[] {
  return clients.filter((c) => c.isOpen());
}

async function closeAll(clients: IdleClient[]): Promise<void> {
  for (const c of clients) c.socket.destroy();
  await Promise.all(clients.map((c) => c.closed));
}

// Linux only: other systems route only 127.0.0.1 to the loopback interface, so there is no
// second client address to bind to.
describe.skipIf(process.platform !== 'linux')(
  'connection admission: one address, or many, cannot starve deliveries of connections',
  () => {
    const secret = newSharedSecret('admission');
    const authorization = `Bearer ${secret}`;
    const log = memoryLogger('warn');
    let r: TestReceiver;

    beforeAll(async () => {
      const limit = fileDescriptorLimit();
      if (limit < FDS_NEEDED)
        throw new Error(
          `this test holds about ${FDS_NEEDED} sockets open; ulimit -n is ${limit}: raise it (ulimit -n 4096)`,
        );
      r = await startTestReceiver({ webhookSecrets: [secret], timeouts: TIMEOUTS, logger: log.logger });
      // The sender has delivered before: its address may now use the reserved share.
      expect((await deliverOnNewConnection(r.webhookUrl, SENDER, authorization)).status).toBe(200);
      // This one tried and failed: a 401 earns nothing.
      expect((await deliverOnNewConnection(r.webhookUrl, '127.0.0.3', 'Bearer wrong')).status).toBe(401);
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await r?.destroy();
    });

    it(`lets one address hold at most ${TIMEOUTS.maxConnectionsPerClient} connections: the rest are closed at once and logged once`, async () => {
      const port = r.config.port;
      const clients = await Promise.all(Array.from({ length: 40 }, () => openIdle(port, '127.0.9.1')));
      const capped = await settle(() => stillOpen(clients).length <= TIMEOUTS.maxConnectionsPerClient, 3_000);
      // A moment more: any later close would be one the cap should not have made.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(capped, `${stillOpen(clients).length} still open`).toBe(true);
      expect(stillOpen(clients)).toHaveLength(TIMEOUTS.maxConnectionsPerClient);
      // Closed before a byte was read: no 408, no answer at all.
      for (const c of clients.filter((c) => !c.isOpen())) expect(c.received()).toBe('');

      const refusals = log.lines().filter((l) => l.msg?.startsWith('connection refused') && l.client === '127.0.9.1');
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toMatchObject({ level: 40, reason: 'per_client', limit: TIMEOUTS.maxConnectionsPerClient });
      expect(refusals[0].msg).toContain('--max-connections-per-client');

      // Another address is not held back by this one's cap.
      const other = await openIdle(port, '127.0.9.2');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(other.isOpen()).toBe(true);

      // The slots come back when its connections close: a leaked count would lock the address out for good.
      await closeAll([...clients, other]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await Promise.all(
        Array.from({ length: TIMEOUTS.maxConnectionsPerClient }, () => openIdle(port, '127.0.9.1')),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(stillOpen(again)).toHaveLength(TIMEOUTS.maxConnectionsPerClient);
      await closeAll(again);
    });

    it(`under ${ATTACKERS.length} addresses holding every connection they can, a sender that delivered before keeps a 25-socket pool (over the per-client cap) and gets all 50 deliveries answered 200 and stored; strangers are turned away`, async () => {
      const port = r.config.port;
      // Let the server see the previous test's sockets close.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const attack = await Promise.all(
        ATTACKERS.flatMap((address) => Array.from({ length: ATTEMPTS_PER_ATTACKER }, () => openIdle(port, address))),
      );
      await settle(() => stillOpen(attack).length <= UNRESERVED, 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const held = stillOpen(attack);
      // Everything not kept in reserve (a few may have been turned away while the last test's
      // sockets were still counted), and no address beyond its cap.
      expect(held.length).toBeLessThanOrEqual(UNRESERVED);
      expect(held.length).toBeGreaterThan(UNRESERVED - 10);
      for (const address of ATTACKERS) {
        expect(held.filter((c) => c.socket.localAddress === address).length).toBeLessThanOrEqual(
          TIMEOUTS.maxConnectionsPerClient,
        );
      }

      // Strangers, and an address that failed to authenticate, get no connection while the attack holds.
      await expect(deliverOnNewConnection(r.webhookUrl, '127.0.0.2', authorization)).rejects.toThrow(
        /socket hang up|ECONNRESET|EPIPE/,
      );
      await expect(deliverOnNewConnection(r.webhookUrl, '127.0.0.3', authorization)).rejects.toThrow(
        /socket hang up|ECONNRESET|EPIPE/,
      );

      // The sender that delivered before is held to the total alone, not to the per-client cap: its
      // keep-alive pool may hold more sockets than that (here 25 idle ones, from the reserve).
      const pool = await Promise.all(Array.from({ length: 25 }, () => openIdle(port, SENDER)));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(stillOpen(pool)).toHaveLength(25);

      // And 50 deliveries, 5 at a time, each on a new connection.
      const statuses: Array<number | string> = [];
      for (let batch = 0; batch < 10; batch++) {
        const answers = await Promise.allSettled(
          Array.from({ length: 5 }, () => deliverOnNewConnection(r.webhookUrl, SENDER, authorization)),
        );
        for (const a of answers)
          statuses.push(a.status === 'fulfilled' ? a.value.status : String((a.reason as Error).message));
      }
      expect(
        statuses.filter((s) => s !== 200),
        `answers: ${statuses.join(', ')}`,
      ).toEqual([]);
      expect(statuses).toHaveLength(50);
      expect(await count(r.database, 'events')).toBe(51);

      // The attack was held throughout: its sockets are still open.
      expect(stillOpen(attack).length).toBe(held.length);

      // Every refusal counted in the metric, read like an operator would (the sender may connect).
      const metrics = await new Promise<string>((resolve, reject) => {
        const req = httpRequest(`${r.url}/metrics`, { agent: false, localAddress: SENDER }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      const refused = (reason: string) =>
        Number(new RegExp(`^docv_connections_refused_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(metrics)?.[1]);
      expect(refused('per_client')).toBeGreaterThanOrEqual(20);
      expect(refused('reserved')).toBeGreaterThanOrEqual(
        ATTACKERS.length * ATTEMPTS_PER_ATTACKER - UNRESERVED - 2 * 20,
      );
      // Logged at most once per address, however many of its connections were refused.
      const lines = log.lines().filter((l) => l.msg?.startsWith('connection refused'));
      expect(new Set(lines.map((l) => l.client)).size).toBe(lines.length);

      await closeAll([...attack, ...pool]);
    });
  },
);

describe.skipIf(process.platform !== 'linux')(
  'connection admission: a connection that sends nothing is closed by the headers timeout',
  () => {
    const timeouts = {
      headersMs: 1_000,
      requestMs: 2_000,
      keepAliveMs: 1_000,
      connectionMs: 3_000,
      maxConnections: 200,
      maxConnectionsPerClient: 5,
    };
    let r: TestReceiver;
    beforeAll(async () => {
      r = await startTestReceiver({ webhookSecrets: [newSharedSecret('idle')], timeouts });
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await r?.destroy();
    });

    it('closes an idle-from-the-start socket within headersMs (Node starts the clock at accept, not at the first byte), and frees its slot', async () => {
      const port = r.config.port;
      const openedAt = Date.now();
      const idle = await Promise.all(
        Array.from({ length: timeouts.maxConnectionsPerClient }, () => openIdle(port, '127.0.9.50')),
      );
      const closedAt = await Promise.race([
        Promise.all(idle.map((c) => c.closed)),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 6_000)),
      ]);
      expect(closedAt, 'an idle connection was never closed').not.toBeNull();
      for (const at of closedAt!) {
        expect(at - openedAt).toBeGreaterThanOrEqual(timeouts.headersMs - 100);
        // The sweep runs every headersMs / 4; slack for a loaded CI machine.
        expect(at - openedAt).toBeLessThanOrEqual(timeouts.headersMs + 1_500);
      }
      for (const c of idle) expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);

      // Its slots are free again: the address gets its whole cap back.
      const again = await Promise.all(
        Array.from({ length: timeouts.maxConnectionsPerClient }, () => openIdle(port, '127.0.9.50')),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(stillOpen(again)).toHaveLength(timeouts.maxConnectionsPerClient);
      await closeAll(again);
    });
  },
);
