import { createHash } from 'node:crypto';
import { formatRetentionPolicy, retentionIsOn } from '../store/retention-policy.js';
import type { SourceConfig } from './config.js';

/**
 * A source as `sources list`, `GET /v1/sources` and the dashboard show it: everything but the
 * secrets. A secret is named by a fingerprint (the first 8 hex digits of its SHA-256), which tells
 * an operator mid-rotation which secrets a source holds without showing any character of them.
 */
export interface SourceSummary {
  name: string;
  path: string;
  /** The dialect it is pinned to, or `any` (each delivery's shape picks one). */
  dialect: string;
  environment: string | null;
  /** One line per configured mechanism, secrets fingerprinted: `shared secret sha256:1a2b3c4d, sha256:…`. */
  credentials: string[];
  allowIps: string[];
  /** Its own retention policy (`raw=30d,events=400d`, `off`: kept), or null when the receiver-wide one applies. */
  retention: string | null;
  /** The Socure API base URL of its own decision fetch, or null when the receiver-wide one applies. */
  decisionFetchUrl: string | null;
}

export function secretFingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 8)}`;
}

/** `user:password` → `user:sha256:…` (the user name is not a secret; the password is). */
function basicFingerprint(entry: string): string {
  const colon = entry.indexOf(':');
  return colon < 0 ? secretFingerprint(entry) : `${entry.slice(0, colon)}:${secretFingerprint(entry.slice(colon + 1))}`;
}

export function summarizeSource(source: SourceConfig): SourceSummary {
  const credentials: string[] = [];
  const { webhookSecrets, basicAuth, signingSecrets, signatureToleranceSeconds, allowIps } = source.auth;
  if (webhookSecrets?.length) credentials.push(`shared secret ${webhookSecrets.map(secretFingerprint).join(', ')}`);
  if (basicAuth?.length) credentials.push(`basic ${basicAuth.map(basicFingerprint).join(', ')}`);
  if (signingSecrets?.length)
    credentials.push(
      `signature ${signingSecrets.map(secretFingerprint).join(', ')}` +
        (signatureToleranceSeconds !== undefined ? ` (tolerance ${signatureToleranceSeconds} s)` : ''),
    );
  return {
    name: source.name,
    path: source.path,
    dialect: source.dialect ?? 'any',
    environment: source.environment ?? null,
    credentials,
    allowIps: allowIps ?? [],
    retention: source.retention
      ? retentionIsOn(source.retention)
        ? formatRetentionPolicy(source.retention)
        : 'off'
      : null,
    decisionFetchUrl: source.socure?.baseUrl ?? null,
  };
}
