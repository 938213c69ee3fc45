import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestReceiver, type TestReceiver } from '../helpers/receiver.js';

/**
 * The `trigger` lines of docs/sandbox.md, run as a user runs them: the built CLI in a fresh
 * process against a real receiver. Once, every one of them failed before sending ("invalid
 * onError method": the attempt went through Node's bundled undici) while every in-process test
 * passed.
 */
describe('docs/sandbox.md: docv-webhooks trigger, in a fresh process', () => {
  let r: TestReceiver;
  beforeAll(async () => {
    r = await startTestReceiver();
  });
  afterAll(async () => r.destroy());

  it.each([
    [['VERIFICATION_COMPLETED', '--decision', 'reject'], 'VERIFICATION_COMPLETED', 'asyncapi'],
    [['TEST_WEBHOOK'], 'TEST_WEBHOOK', 'socure-v5'],
    [['evaluation_completed', '--decision', 'review'], 'evaluation_completed', 'riskos'],
  ])('trigger %j is delivered and stored', async (args, eventType, dialect) => {
    const result = await runCli(['trigger', ...args, '--target', r.webhookUrl]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/attempt 1: HTTP 200/);
    const eventId = /"eventId":"(evt_[^"]+)"/.exec(result.stdout)?.[1];
    const stored = await r.admin(`/v1/events/${eventId}`);
    expect(stored.json).toMatchObject({ eventType, dialect });
  });
});
