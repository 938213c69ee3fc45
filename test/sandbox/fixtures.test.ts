import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DOCV_EVENT_TYPES, type CanonicalDecision } from '../../src/contract/index.js';
import { asyncapiEvent } from '../../src/sandbox/dialects/asyncapi.js';
import { riskosNotification } from '../../src/sandbox/dialects/riskos.js';
import { V5_EVENT_TYPES, v5Notification } from '../../src/sandbox/dialects/socure-v5.js';
import type { DocvSubject, NotificationOptions } from '../../src/sandbox/dialects/types.js';
import { idPlusResult } from '../../src/sandbox/id-plus-result.js';
import { triggerPayload } from '../../src/sandbox/trigger.js';
import { fixture, fixturePath, shapeOf } from './helpers/shape.js';

/**
 * The sandbox's builders against test/fixtures: same keys, same nesting, same JSON types, type
 * by type. A fixture changed from the facts file, or a builder changed by someone, fails here
 * until the other follows.
 */

const subject: DocvSubject = {
  docvTransactionId: '0b8e2f4c-1d7a-4e39-9c65-3f0a8b2d7e14',
  referenceId: 'd1c4a7e2-9b30-4f8d-a5e6-2c7b0f9d3a18',
  customerUserId: 'user-1',
  documentType: 'license',
  country: 'US',
};
const opts = (decision?: CanonicalDecision): NotificationOptions => ({
  at: Date.UTC(2026, 2, 1, 10),
  decision,
  notificationId: 'c0ffee00-0000-4000-8000-000000000001',
});

describe('asyncapi fixtures', () => {
  it.each(DOCV_EVENT_TYPES)('%s has the shape the sandbox sends', (type) => {
    const built = asyncapiEvent(subject, type, opts(type === 'VERIFICATION_COMPLETED' ? 'accept' : undefined));
    expect(shapeOf(built.payload)).toEqual(shapeOf(fixture(`asyncapi/${type}.json`)));
  });
});

describe('socure-v5 fixtures', () => {
  it('there is one for every v5 event type and the test event', () => {
    const files = readdirSync(fixturePath('socure-v5/'));
    for (const type of [...V5_EVENT_TYPES, 'TEST_WEBHOOK']) expect(files).toContain(`${type}.json`);
  });

  it.each([...V5_EVENT_TYPES])('%s has the shape the sandbox sends', (type) => {
    const built = v5Notification(subject, type, opts(type === 'VERIFICATION_COMPLETED' ? 'accept' : undefined));
    expect(shapeOf(built.payload)).toEqual(shapeOf(fixture(`socure-v5/${type}.json`)));
  });

  it('TEST_WEBHOOK has the shape trigger sends: no token, no origId, sample document data', () => {
    const { dialect, payload } = triggerPayload({ eventType: 'TEST_WEBHOOK' });
    expect(dialect).toBe('socure-v5');
    expect(shapeOf(payload)).toEqual(shapeOf(fixture('socure-v5/TEST_WEBHOOK.json')));
  });

  it('a numeric customerUserId stays a number', () => {
    const built = v5Notification({ ...subject, customerUserId: 121212 }, 'APP_OPENED', opts());
    expect(shapeOf(built.payload)).toEqual(shapeOf(fixture('socure-v5/numeric-customerUserId-APP_OPENED.json')));
  });

  it('an unknown type goes out in the same envelope (its data is its own)', () => {
    const built = v5Notification(subject, 'UNKNOWN_FUTURE_TYPE', opts());
    const file = fixture('socure-v5/UNKNOWN_FUTURE_TYPE.json') as { event: Record<string, unknown> };
    const { data: _data, ...eventWithoutData } = file.event;
    expect(shapeOf(built.payload)).toEqual(shapeOf({ ...file, event: eventWithoutData }));
  });

  it('the other token spelling is the one of docVTransactionToken-APP_OPENED.json', () => {
    const other = fixture('socure-v5/docVTransactionToken-APP_OPENED.json') as { event: Record<string, unknown> };
    const built = v5Notification(subject, 'SESSION_COMPLETE', opts()).payload as { event: Record<string, unknown> };
    expect(Object.keys(built.event)).toContain('docVTransactionToken');
    expect(Object.keys(other.event)).toContain('docVTransactionToken');
  });
});

describe('riskos fixtures', () => {
  it('case_notes_added has the shape of the sandbox progress notes', () => {
    const built = riskosNotification(subject, 'APP_OPENED', opts());
    expect(built.eventType).toBe('case_notes_added');
    expect(shapeOf(built.payload)).toEqual(shapeOf(fixture('riskos/case_notes_added.json')));
  });

  it.each([
    ['ACCEPT', 'accept'],
    ['REVIEW', 'review'],
    ['REVIEW', 'resubmit'],
    ['REJECT', 'reject'],
  ] as const)('evaluation_completed-%s has the shape the sandbox sends for %s', (riskos, decision) => {
    const built = riskosNotification(
      { ...subject, sessionUrl: 'http://127.0.0.1:4010/capture/t' },
      'VERIFICATION_COMPLETED',
      opts(decision),
    );
    const file = fixture(`riskos/evaluation_completed-${riskos}.json`);
    expect(shapeOf(built.payload)).toEqual(shapeOf(file));
    expect((built.payload.data as { decision: string }).decision).toBe((file.data as { decision: string }).decision);
  });
});

describe('ID+ result fixtures', () => {
  const withUser: DocvSubject = { ...subject, userId: 'u-1' };

  it('result-accept has the shape the sandbox answers once decided', () => {
    const built = idPlusResult({ subject: withUser, decision: 'accept', completedAt: new Date(), referenceId: 'r' });
    expect(shapeOf(built)).toEqual(shapeOf(fixture('idplus/result-accept.json')));
  });

  it('result-pending has the shape the sandbox answers before that', () => {
    const built = idPlusResult({ subject: withUser, decision: undefined, completedAt: new Date(), referenceId: 'r' });
    expect(shapeOf(built)).toEqual(shapeOf(fixture('idplus/result-pending.json')));
  });
});
