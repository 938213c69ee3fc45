import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendEvent } from '../../src/sandbox/index.js';
import { resolveTriggerDialect } from '../../src/sandbox/trigger.js';
import { fixture, shapeOf } from './helpers/shape.js';
import { startSink, type Sink } from './helpers/sink.js';

/** `trigger` as a library call: one event of any dialect, Socure's test event included. */

let sink: Sink;
beforeAll(async () => {
  sink = await startSink();
});
afterAll(() => sink?.close());

describe('sendEvent', () => {
  it('sends the v5 TEST_WEBHOOK: no token, no origId, sample document data, authenticated as configured', async () => {
    const r = await sendEvent({ target: sink.url, eventType: 'TEST_WEBHOOK', webhookSecret: 'shh' });
    expect(r).toMatchObject({ delivered: true, dialect: 'socure-v5' });
    const got = sink.received.find((x) => x.headers['webhook-id'] === r.eventId)!;
    expect(got.headers.authorization).toBe('shh');
    expect(got.json).toMatchObject({
      eventGroup: 'DocvNotification',
      reason: 'TEST_WEBHOOK',
      environmentName: 'Sandbox',
      event: {
        eventType: 'TEST_WEBHOOK',
        created: expect.stringMatching(/\.\d{3}Z$/),
        customerUserId: expect.any(String),
        referenceId: expect.any(String),
        data: { documentData: { firstName: expect.any(String), dob: expect.any(String) } },
      },
    });
    expect(got.json).not.toHaveProperty('origId');
    expect(got.json.event).not.toHaveProperty('docvTransactionToken');
    expect(got.json.event).not.toHaveProperty('docVTransactionToken');
    expect(shapeOf(got.json)).toEqual(shapeOf(fixture('socure-v5/TEST_WEBHOOK.json')));
  });

  it('sends any v5 type, and one nobody knows when told the dialect', async () => {
    const known = await sendEvent({
      target: sink.url,
      eventType: 'DOCUMENT_BACK_UPLOADED',
      docvTransactionId: 'tok-1',
      customerUserId: 'c-1',
    });
    expect(known.payload).toMatchObject({
      origId: 'tok-1',
      event: { eventType: 'DOCUMENT_BACK_UPLOADED', docvTransactionToken: 'tok-1', customerUserId: 'c-1' },
    });
    const unknown = await sendEvent({
      target: sink.url,
      eventType: 'UNKNOWN_FUTURE_TYPE',
      dialect: 'socure-v5',
      docvTransactionId: 'tok-1',
    });
    expect(unknown.payload).toMatchObject({
      reason: 'UNKNOWN_FUTURE_TYPE',
      event: { eventType: 'UNKNOWN_FUTURE_TYPE', docvTransactionToken: 'tok-1' },
    });
    const withDecision = await sendEvent({
      target: sink.url,
      eventType: 'VERIFICATION_COMPLETED',
      dialect: 'socure-v5',
      decision: 'review',
      set: { environmentName: 'Production' },
    });
    expect(withDecision.payload).toMatchObject({
      environmentName: 'Production',
      event: { data: { documentVerification: { decision: { value: 'review' } } } },
    });
  });

  it('sends RiskOS events with the decision in upper case', async () => {
    const done = await sendEvent({
      target: sink.url,
      eventType: 'evaluation_completed',
      docvTransactionId: 'tok-2',
      decision: 'resubmit',
    });
    expect(done).toMatchObject({
      dialect: 'riskos',
      payload: { event_type: 'evaluation_completed', data: { decision: 'REVIEW' } },
    });
    const note = await sendEvent({
      target: sink.url,
      eventType: 'APP_OPENED',
      dialect: 'riskos',
      docvTransactionId: 'tok-2',
    });
    expect(note.payload).toMatchObject({
      event_type: 'case_notes_added',
      data: { notes: 'Capture App Opened', reviewer_id: 'Webhook' },
    });
  });

  it('keeps the flat contract for its four types', async () => {
    const r = await sendEvent({ target: sink.url, eventType: 'VERIFICATION_COMPLETED', docvTransactionId: 'tx-flat' });
    expect(r.dialect).toBe('asyncapi');
    expect(Object.keys(r.payload)).toEqual(['eventType', 'docvTransactionId', 'eventTime', 'decision']);
  });

  it('refuses what it cannot send, saying why', async () => {
    await expect(sendEvent({ target: sink.url, eventType: 'SESSION_COMPLETE', dialect: 'asyncapi' })).rejects.toThrow(
      /SESSION_COMPLETE is not an event type of the asyncapi dialect \(it has APP_OPENED/,
    );
    await expect(
      sendEvent({ target: sink.url, eventType: 'APP_OPENED', dialect: 'socure-v5', decision: 'accept' }),
    ).rejects.toThrow(/in socure-v5 a decision goes with VERIFICATION_COMPLETED/);
    expect(() => resolveTriggerDialect('SOMETHING_NEW', undefined)).toThrow(
      /nobody knows event type SOMETHING_NEW yet.*--dialect socure-v5 or riskos/,
    );
    expect(() => resolveTriggerDialect('has space', 'socure-v5')).toThrow(/must be a name/);
    expect(resolveTriggerDialect('SESSION_COMPLETE', undefined)).toBe('socure-v5');
    expect(resolveTriggerDialect('case_notes_added', undefined)).toBe('riskos');
    expect(resolveTriggerDialect('APP_OPENED', undefined)).toBe('asyncapi');
  });
});
