import { describe, expect, it } from 'vitest';
import { NO_CHAOS, chaosFromJson, chaosFromText, decideChaos, mergeChaos } from '../../src/sandbox/chaos.js';

const always = () => 0;
const never = () => 0.999;

describe('chaos settings', () => {
  it('parses the flag form', () => {
    expect(chaosFromText('duplicates=0.2,outOfOrder=1,delay=0.5,delayMs=10ms-2s,omitDecision=1')).toEqual({
      ok: true,
      value: { duplicates: 0.2, outOfOrder: 1, delay: 0.5, delayMs: { min: 10, max: 2000 }, omitDecision: 1 },
    });
    expect(chaosFromText('delayMs=250')).toEqual({ ok: true, value: { delayMs: { min: 250, max: 250 } } });
    expect(chaosFromText('')).toEqual({ ok: true, value: {} });
  });

  it('parses the JSON form', () => {
    expect(chaosFromJson({ duplicates: 1, delayMs: [5, 10] })).toEqual({
      ok: true,
      value: { duplicates: 1, delayMs: { min: 5, max: 10 } },
    });
    expect(chaosFromJson({ delayMs: { min: 1, max: 2 } })).toEqual({
      ok: true,
      value: { delayMs: { min: 1, max: 2 } },
    });
    expect(chaosFromJson(undefined)).toEqual({ ok: true, value: {} });
  });

  it('refuses what it does not understand, saying what', () => {
    expect(chaosFromText('duplicate=1')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unknown chaos setting "duplicate"'),
    });
    expect(chaosFromText('duplicates=2')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('between 0 and 1'),
    });
    expect(chaosFromText('duplicates')).toMatchObject({ ok: false, reason: expect.stringContaining('key=value') });
    expect(chaosFromJson({ delayMs: [10, 5] })).toMatchObject({ ok: false });
    expect(chaosFromJson({ delayMs: 'soon' })).toMatchObject({ ok: false });
    expect(chaosFromJson([1])).toMatchObject({ ok: false });
  });

  it('lets per-transaction settings win key by key', () => {
    expect(mergeChaos({ duplicates: 1, delay: 1 }, { delay: 0 })).toEqual({ ...NO_CHAOS, duplicates: 1, delay: 0 });
  });
});

describe('chaos decisions', () => {
  it('does nothing without chaos', () => {
    expect(decideChaos(NO_CHAOS, 'VERIFICATION_COMPLETED', always)).toEqual({
      copies: 1,
      hold: false,
      delayMs: 0,
      omitDecision: false,
    });
  });

  it('applies every knob at rate 1', () => {
    const all = mergeChaos(
      { duplicates: 1, outOfOrder: 1, delay: 1, delayMs: { min: 10, max: 20 }, omitDecision: 1 },
      undefined,
    );
    expect(decideChaos(all, 'APP_OPENED', always)).toEqual({ copies: 2, hold: true, delayMs: 10, omitDecision: false });
    expect(decideChaos(all, 'VERIFICATION_COMPLETED', always)).toEqual({
      copies: 2,
      hold: false,
      delayMs: 10,
      omitDecision: true,
    });
  });

  it('never holds the last event of a session: nothing would overtake it', () => {
    const ooo = mergeChaos({ outOfOrder: 1 }, undefined);
    expect(decideChaos(ooo, 'SESSION_EXPIRED', always).hold).toBe(false);
    expect(decideChaos(ooo, 'DOCUMENTS_UPLOADED', always).hold).toBe(true);
  });

  it('rolls each knob against its rate', () => {
    const half = mergeChaos({ duplicates: 0.5 }, undefined);
    expect(decideChaos(half, 'APP_OPENED', () => 0.49).copies).toBe(2);
    expect(decideChaos(half, 'APP_OPENED', never).copies).toBe(1);
  });
});
