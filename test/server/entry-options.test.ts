import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_DISPATCH, resolveReceiverConfig } from '../../src/compose/index.js';
import { createDocvReceiver } from '../../src/receiver/index.js';
import { startReceiver, startWorker } from '../../src/server/index.js';

describe('entry-point options', () => {
  it('a partial section keeps the defaults of the rest; undefined sets nothing', () => {
    const config = resolveReceiverConfig({
      dispatch: { concurrency: 3 },
      timeouts: { requestMs: 1_000 },
      port: undefined,
    });
    expect(config.dispatch).toEqual({ ...DEFAULT_DISPATCH, concurrency: 3 });
    expect(config.timeouts.requestMs).toBe(1_000);
    expect(config.timeouts.headersMs).toBeGreaterThan(0);
    expect(config.port).toBe(3000);
  });

  it('the deprecated spellings map onto the one spelling', () => {
    const config = resolveReceiverConfig({
      db: 'sqlite:/tmp/x.db',
      webhookSecrets: ['s1-long-enough-secret'],
      auth: { allowIps: ['127.0.0.1'] },
    });
    expect(config.databaseUrl).toBe('sqlite:/tmp/x.db');
    expect(config.auth).toEqual({ allowIps: ['127.0.0.1'], webhookSecrets: ['s1-long-enough-secret'] });
    expect(resolveReceiverConfig({ db: 'sqlite:/tmp/old.db', databaseUrl: 'sqlite:/tmp/new.db' }).databaseUrl).toBe(
      'sqlite:/tmp/new.db',
    );
  });

  it('each entry point refuses options it does not take, before opening anything', async () => {
    // A worker takes no deliveries: a port or credentials given to it would be silently ignored.
    const worker = startWorker({ port: 3001, auth: { webhookSecrets: ['x'] } } as never);
    await expect(worker).rejects.toThrow(ConfigError);
    await expect(worker).rejects.toThrow(/startWorker does not take port, auth/);
    await expect(startReceiver({ metricsPort: 9 } as never)).rejects.toThrow(/startReceiver does not take metricsPort/);
    expect(() => createDocvReceiver({ port: 3000 } as never)).toThrow(/createDocvReceiver does not take port/);
  });

  it('numbers a receiver cannot run with are refused, naming the setting', () => {
    expect(() => resolveReceiverConfig({ dispatch: { concurrency: 0 } })).toThrow(
      /dispatch.concurrency must be a whole number from 1/,
    );
    expect(() => resolveReceiverConfig({ port: 70_000 })).toThrow(/port must be a whole number from 0 to 65535/);
    expect(() => createDocvReceiver({ maxBodyBytes: -1 })).toThrow(/maxBodyBytes/);
    expect(() => createDocvReceiver({ authFailureLimit: 1.5 })).toThrow(/authFailureLimit/);
  });

  it('the library checks the Socure settings as serve does', () => {
    expect(() => createDocvReceiver({ socure: { baseUrl: 'https://example.test' } })).toThrow(
      /SOCURE_BASE_URL and SOCURE_API_KEY go together/,
    );
  });
});
