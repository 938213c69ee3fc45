/**
 * What one credential check concludes about one request. `reason` is written for the operator's
 * log line: it says what was missing or wrong, never a secret or the credential that was sent.
 */
export type CheckResult = { ok: true; webhookId?: string } | { ok: false; reason: string };

export const passed: CheckResult = { ok: true };

export function failed(reason: string): CheckResult {
  return { ok: false, reason };
}

/** The realm named in `WWW-Authenticate` challenges. */
export const AUTH_REALM = 'docv-webhooks';
