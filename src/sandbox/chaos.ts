import { parseDuration } from '../retry/schedule.js';

/**
 * Misbehaviour a real sender shows now and then, dialled up so a receiver can be tested against
 * it. Rates are probabilities per event, 0 to 1.
 */
export interface ChaosSettings {
  /** An event delivered twice, with the same `webhook-id` and body (a retry after a lost answer). */
  duplicates: number;
  /** An event held back until the transaction's next event has been delivered. */
  outOfOrder: number;
  /** An event delivered late, by a random time within `delayMs` (later events wait for it). */
  delay: number;
  delayMs: { min: number; max: number };
  /** `VERIFICATION_COMPLETED` sent without `decision`: the receiver must fetch it. */
  omitDecision: number;
}

export const NO_CHAOS: ChaosSettings = Object.freeze({
  duplicates: 0,
  outOfOrder: 0,
  delay: 0,
  delayMs: Object.freeze({ min: 100, max: 2_000 }),
  omitDecision: 0,
}) as ChaosSettings;

export type ChaosOverrides = Partial<ChaosSettings>;

const RATE_KEYS = ['duplicates', 'outOfOrder', 'delay', 'omitDecision'] as const;
const KEYS = [...RATE_KEYS, 'delayMs'] as const;
/** Upper bound on an injected delay: chaos must not park an event for days by a typo. */
const MAX_DELAY_MS = 24 * 3600_000;

export type ChaosParse = { ok: true; value: ChaosOverrides } | { ok: false; reason: string };

function parseRate(key: string, value: unknown): number | string {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1)
    return `chaos ${key} must be a rate between 0 and 1`;
  return n;
}

function parseDelayRange(value: unknown): { min: number; max: number } | string {
  const bad = 'chaos delayMs must be a number of milliseconds, "min-max" (e.g. "10ms-2s"), [min, max] or {min, max}';
  let min: unknown;
  let max: unknown;
  if (typeof value === 'number') min = max = value;
  else if (Array.isArray(value) && value.length === 2) [min, max] = value;
  else if (value !== null && typeof value === 'object') ({ min, max } = value as { min?: unknown; max?: unknown });
  else if (typeof value === 'string') {
    const parts = value.split('-').map((p) => p.trim());
    if (parts.length < 1 || parts.length > 2) return bad;
    try {
      const ms = parts.map((p) => (/^\d+(\.\d+)?$/.test(p) ? Number(p) : parseDuration(p)));
      min = ms[0];
      max = ms[1] ?? ms[0];
    } catch {
      return bad;
    }
  } else return bad;
  if (typeof min !== 'number' || typeof max !== 'number' || !(min >= 0) || !(max >= min) || max > MAX_DELAY_MS)
    return bad;
  return { min, max };
}

/** Chaos from JSON (a create request's `sandbox.chaos`, `PUT /sandbox/chaos`); unknown keys are errors. */
export function chaosFromJson(value: unknown): ChaosParse {
  if (value === undefined || value === null) return { ok: true, value: {} };
  if (typeof value !== 'object' || Array.isArray(value)) return { ok: false, reason: 'chaos must be an object' };
  const out: ChaosOverrides = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'delayMs') {
      const range = parseDelayRange(raw);
      if (typeof range === 'string') return { ok: false, reason: range };
      out.delayMs = range;
    } else if ((RATE_KEYS as readonly string[]).includes(key)) {
      const rate = parseRate(key, raw);
      if (typeof rate === 'string') return { ok: false, reason: rate };
      out[key as (typeof RATE_KEYS)[number]] = rate;
    } else {
      return { ok: false, reason: `unknown chaos setting "${key}" (known: ${KEYS.join(', ')})` };
    }
  }
  return { ok: true, value: out };
}

/** Chaos from a flag: `duplicates=0.2,outOfOrder=1,delay=0.5,delayMs=10ms-2s,omitDecision=1`. */
export function chaosFromText(text: string): ChaosParse {
  const obj: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: `chaos setting "${part.trim()}" is not key=value` };
    obj[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return chaosFromJson(obj);
}

/** Per-transaction settings win over global ones, key by key. */
export function mergeChaos(global: ChaosOverrides, perTransaction: ChaosOverrides | undefined): ChaosSettings {
  return { ...NO_CHAOS, ...global, ...(perTransaction ?? {}) };
}

/** What chaos does to one event's delivery. */
export interface ChaosDecision {
  /** 1 normally, 2 for a duplicate. */
  copies: number;
  hold: boolean;
  delayMs: number;
  omitDecision: boolean;
}

/** The events after which a session has nothing more to say. */
const SESSION_ENDS: ReadonlySet<string> = new Set(['VERIFICATION_COMPLETED', 'SESSION_EXPIRED']);

/**
 * Rolls the dice for one notification, named by its DocV step (VERIFICATION_COMPLETED is the one
 * that carries a decision, whatever the dialect calls it). Pure: `random` is injected. The last
 * notification of a session is never held, since nothing follows it to overtake it; a session
 * end followed by more notifications (v5's SESSION_COMPLETE) says so with `last`.
 */
export function decideChaos(
  settings: ChaosSettings,
  eventType: string,
  random: () => number,
  last = SESSION_ENDS.has(eventType),
): ChaosDecision {
  const roll = (rate: number) => rate > 0 && random() < rate;
  const copies = roll(settings.duplicates) ? 2 : 1;
  const hold = !last && roll(settings.outOfOrder);
  const delayed = roll(settings.delay);
  const { min, max } = settings.delayMs;
  const delayMs = delayed ? Math.round(min + (max - min) * random()) : 0;
  const omitDecision = eventType === 'VERIFICATION_COMPLETED' && roll(settings.omitDecision);
  return { copies, hold, delayMs, omitDecision };
}
