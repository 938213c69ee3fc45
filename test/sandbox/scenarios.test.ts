import { describe, expect, it } from 'vitest';
import {
  PACE,
  SCENARIOS,
  planScenario,
  resolveScenario,
  scaleDelay,
  scenarioFromCustomerUserId,
  scenarioOutcome,
} from '../../src/sandbox/scenarios.js';
import { advanceStatus, isTerminal } from '../../src/sandbox/status.js';

describe('scenario plans', () => {
  it('walks the happy paths through the whole flow with their decision', () => {
    for (const s of ['accept', 'reject', 'resubmit'] as const) {
      const plan = planScenario(s);
      expect(plan.map((p) => p.eventType)).toEqual(['APP_OPENED', 'DOCUMENTS_UPLOADED', 'VERIFICATION_COMPLETED']);
      expect(plan[2]!.decision).toBe(s);
      expect(plan.map((p) => p.atMs)).toEqual([...plan.map((p) => p.atMs)].sort((a, b) => a - b));
    }
  });

  it('expires a session that was opened and never finished, and one never opened', () => {
    expect(planScenario('expire').map((p) => p.eventType)).toEqual(['APP_OPENED', 'SESSION_EXPIRED']);
    expect(planScenario('abandon')).toEqual([{ eventType: 'SESSION_EXPIRED', atMs: PACE.sessionExpiresMs }]);
    expect(planScenario('manual').map((p) => p.eventType)).toEqual(['SESSION_EXPIRED']);
  });

  it('rolls mixed with the injected random and covers every concrete scenario', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(resolveScenario('mixed', () => i / 100));
    expect([...seen].sort()).toEqual(['abandon', 'accept', 'expire', 'reject', 'resubmit']);
    expect(resolveScenario('mixed', () => 0)).toBe('accept');
    expect(resolveScenario('mixed', () => 0.999)).toBe('abandon');
    expect(resolveScenario('reject', () => 0)).toBe('reject');
  });

  it('reads the magic customerUserId', () => {
    expect(scenarioFromCustomerUserId('sandbox-reject')).toBe('reject');
    expect(scenarioFromCustomerUserId('sandbox-expire-42')).toBe('expire');
    expect(scenarioFromCustomerUserId('sandbox-mixed:abc')).toBe('mixed');
    expect(scenarioFromCustomerUserId('sandbox-rejected')).toBeUndefined();
    expect(scenarioFromCustomerUserId('user-sandbox-reject')).toBeUndefined();
    expect(scenarioFromCustomerUserId(undefined)).toBeUndefined();
    for (const s of SCENARIOS) expect(scenarioFromCustomerUserId(`sandbox-${s}`)).toBe(s);
  });

  it('completes with the scenario decision, accept otherwise', () => {
    expect(scenarioOutcome('reject')).toBe('reject');
    expect(scenarioOutcome('expire')).toBe('accept');
  });

  it('scales scenario time to wall-clock time', () => {
    expect(scaleDelay(20_000, 0.001)).toBe(20);
    expect(scaleDelay(20_000, 0)).toBe(0);
    expect(scaleDelay(20_000, 2)).toBe(40_000);
  });

  it('ranks statuses as the lifecycle does', () => {
    expect(advanceStatus('CREATED', 'DOCUMENTS_UPLOADED')).toBe('DOCUMENTS_UPLOADED');
    expect(advanceStatus('VERIFICATION_COMPLETED', 'APP_OPENED')).toBe('VERIFICATION_COMPLETED');
    expect(advanceStatus('SESSION_EXPIRED', 'VERIFICATION_COMPLETED')).toBe('VERIFICATION_COMPLETED');
    expect(isTerminal('SESSION_EXPIRED')).toBe(true);
    expect(isTerminal('DOCUMENTS_UPLOADED')).toBe(false);
  });
});
