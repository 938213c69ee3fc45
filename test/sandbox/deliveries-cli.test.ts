import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/index.js';
import { killLiveCliProcesses, runCli } from '../helpers/cli.js';
import { sandboxClient } from './helpers/api.js';
import { eventually, startSink } from './helpers/sink.js';

/** `docv-webhooks deliveries --sandbox`, as installed users run it (the built CLI), against a real sandbox and receiver. */

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
afterAll(() => killLiveCliProcesses());

type Shown = { id: number; status: string; attempts: number };

describe('deliveries --sandbox', () => {
  it('shows a held delivery and what it waits for, cancels the one holding it, and shows attempts with rounded latencies', async () => {
    // APP_OPENED fails for good (503 with a one-hour retry), so the transaction's next event waits behind it.
    const sink = await startSink((r) => ({ status: r.json.eventType === 'APP_OPENED' ? 503 : 200 }));
    cleanup.push(() => sink.close());
    const sb = await startSandbox({ apiKey: 'k', retrySchedule: '1h' });
    cleanup.push(() => sb.close());
    const api = sandboxClient(sb);
    const id = (await api.create({ webhookUrl: sink.url })).json.docvTransactionId as string;
    await api.emit(id, { eventType: 'APP_OPENED' });
    await api.emit(id, { eventType: 'DOCUMENTS_UPLOADED' });
    const shown = async () => (await api.deliveries(`?transaction=${id}`)).json.deliveries as Shown[];
    await eventually(async () => (await shown())[0]!.attempts === 1, 'the first attempt recorded');
    const [first, second] = await shown();
    const cli = (...args: string[]) =>
      runCli(['deliveries', ...args, '--sandbox', sb.url], { env: { DOCV_SANDBOX_API_KEY: 'k' } });

    const listed = await cli('--transaction', id);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${first!.id} +${id} +APP_OPENED +pending +1 +503 +\\d{4}-`, 'm'));
    expect(listed.stdout).toMatch(
      new RegExp(`^${second!.id} +${id} +DOCUMENTS_UPLOADED +held +0 +- +after delivery ${first!.id}$`, 'm'),
    );
    expect(listed.stdout).toContain('all deliveries: pending 1, held 1;');

    const one = await cli(String(second!.id));
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^status +held$/m);
    expect(one.stdout).toMatch(new RegExp(`^waitingFor +${first!.id}$`, 'm'));
    expect(one.stdout).toMatch(
      new RegExp(`^reason +waits for delivery ${first!.id}: a transaction's events go one at a time, in order$`, 'm'),
    );
    const attempted = await cli(String(first!.id));
    // The attempt's latency as a person reads it: at most one decimal, with its unit.
    expect(attempted.stdout).toMatch(/^1 +\d{4}-\S+ +\d+(\.\d)? ms +503 /m);

    const cancelled = await cli(String(first!.id), '--cancel');
    expect(cancelled).toMatchObject({ code: 0, stderr: '' });
    expect(cancelled.stdout).toBe(
      `cancelled delivery ${first!.id} (APP_OPENED of ${id}): no more attempts; the transaction's later deliveries go on\n`,
    );
    await eventually(
      () => sink.received.some((r) => r.json.eventType === 'DOCUMENTS_UPLOADED'),
      'the held event released',
    );
    expect((await shown()).map((d) => d.status)).toEqual(['cancelled', 'delivered']);

    const again = await cli(String(first!.id), '--cancel');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `docv-webhooks: the sandbox answered 409: delivery ${first!.id} is already cancelled: it has no attempts left to cancel\n`,
    );
    const done = await cli(String(second!.id), '--cancel');
    expect(done.code).toBe(1);
    expect(done.stderr).toContain(`delivery ${second!.id} was delivered: there is nothing to cancel`);
    // APP_OPENED still fails: sent again, it goes back to waiting an hour for its next attempt.
    const retried = await cli(String(first!.id), '--retry');
    expect(retried.stdout).toBe(
      `re-queued delivery ${first!.id} (APP_OPENED of ${id}): pending, with the whole retry schedule ahead\n`,
    );
    await eventually(async () => (await shown())[0]!.attempts === 2, 'the retried attempt recorded');
    expect((await shown())[0]!.status).toBe('pending');
    const noId = await cli('--cancel');
    expect(noId.code).toBe(1);
    expect(noId.stderr).toContain('--cancel needs a delivery id');
  });
});
