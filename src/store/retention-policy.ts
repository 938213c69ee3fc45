/**
 * How long personal data is kept (issue 20): `--retention raw=30d,events=400d,quarantine=14d`.
 * An object rather than loose numbers, so a source can carry a policy of its own later and the
 * job takes whichever applies.
 */
export interface RetentionPolicy {
  /** Raw bodies, stored headers and document data of events received longer ago than this (ms). */
  raw?: number | undefined;
  /** Whole events (and their finished transactions) last active longer ago than this (ms). */
  events?: number | undefined;
  /** Quarantined bodies received longer ago than this (ms). */
  quarantine?: number | undefined;
}

export const RETENTION_PARTS = ['raw', 'events', 'quarantine'] as const;
export type RetentionPart = (typeof RETENTION_PARTS)[number];

/**
 * Statuses after which a transaction gets no further events worth waiting for: its events may go
 * once the whole transaction is older than `events=`. A transaction still in progress keeps its
 * events (its raw bodies still go after `raw=`).
 */
export const FINISHED_STATUSES: readonly string[] = [
  'SESSION_EXPIRED',
  'SESSION_COMPLETE',
  'VERIFICATION_COMPLETED',
  'evaluation_completed',
];

export class RetentionPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetentionPolicyError';
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30d` → ms. Units s, m, h, d; a positive whole number before them. */
export function parseRetentionAge(text: string, part: string): number {
  const m = /^(\d{1,7})([smhd])$/.exec(text.trim());
  if (!m) throw new RetentionPolicyError(`${part}: "${text}" is not an age like 30d, 12h, 90m or 45s`);
  const n = Number(m[1]);
  if (n <= 0) throw new RetentionPolicyError(`${part}: an age must be more than zero (got "${text}")`);
  return n * UNIT_MS[m[2]!]!;
}

/**
 * `raw=30d,events=400d,quarantine=14d` → a policy; every part optional, none repeated. An error
 * names the part that is wrong. `off` or an empty string: keep everything.
 */
export function parseRetentionPolicy(text: string): RetentionPolicy {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'off') return {};
  const policy: RetentionPolicy = {};
  for (const item of trimmed.split(',')) {
    const part = item.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) throw new RetentionPolicyError(`"${part}" is not name=age (names: ${RETENTION_PARTS.join(', ')})`);
    const name = part.slice(0, eq).trim();
    if (!(RETENTION_PARTS as readonly string[]).includes(name))
      throw new RetentionPolicyError(`"${name}" is not one of ${RETENTION_PARTS.join(', ')}`);
    if (policy[name as RetentionPart] !== undefined) throw new RetentionPolicyError(`${name} is given twice`);
    policy[name as RetentionPart] = parseRetentionAge(part.slice(eq + 1), name);
  }
  if (policy.raw !== undefined && policy.events !== undefined && policy.raw > policy.events)
    throw new RetentionPolicyError('raw= is longer than events=: a raw body cannot outlive its event');
  return policy;
}

/** The largest unit that divides the age: 30d, 36h, 90m, 45s. */
export function formatRetentionAge(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const) if (ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}

export function formatRetentionPolicy(policy: RetentionPolicy): string {
  const parts = RETENTION_PARTS.filter((p) => policy[p] !== undefined).map(
    (p) => `${p}=${formatRetentionAge(policy[p]!)}`,
  );
  return parts.length ? parts.join(',') : 'off';
}

export function retentionIsOn(policy: RetentionPolicy | undefined): boolean {
  return policy !== undefined && RETENTION_PARTS.some((p) => policy[p] !== undefined);
}
