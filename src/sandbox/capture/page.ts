import { CANONICAL_DECISIONS, DECISIONS, type CanonicalDecision, type Dialect } from '../../contract/index.js';
import { statusRank } from '../status.js';
import type { TransactionRecord } from '../records.js';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The page's Content-Security-Policy: nothing loads from anywhere, no script at all, one inline
 * style by nonce, and forms post only back to the sandbox. The page works with plain HTML forms,
 * so it needs no JavaScript.
 */
export function capturePagePolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const STYLE = `
body{font:16px/1.4 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.3rem}ol{padding-left:1.2rem}li{margin:.8rem 0}
button{font:inherit;padding:.4rem .9rem;border-radius:.3rem;border:1px solid #555;background:#f3f3f3;cursor:pointer}
button:disabled{opacity:.45;cursor:default}.done{color:#2a7a2a}.notice{padding:.5rem;border:1px solid #b00;color:#b00}
fieldset{border:0;padding:0;margin:.4rem 0}code{font-size:.9em}`;

/** What the three steps send, per dialect, for the person clicking through. */
const STEP_EVENTS: Record<Dialect, string> = {
  asyncapi: 'APP_OPENED, DOCUMENTS_UPLOADED, VERIFICATION_COMPLETED',
  'socure-v5': 'APP_OPENED; each side uploaded and DOCUMENTS_UPLOADED; VERIFICATION_COMPLETED and SESSION_COMPLETE',
  riskos: 'a case note per step, then evaluation_completed',
};

export interface CapturePageInput {
  tx: TransactionRecord;
  nonce: string;
  /** Where the step forms post, e.g. `/capture/<token>`. */
  actionBase: string;
  notice?: string;
}

/** One HTML page: where the session stands and a button per step of the end user. */
export function renderCapturePage({ tx, nonce, actionBase, notice }: CapturePageInput): string {
  const rank = statusRank(tx.status);
  const over = tx.status === 'VERIFICATION_COMPLETED' || tx.status === 'SESSION_EXPIRED';
  const opened = rank >= statusRank('APP_OPENED');
  const uploaded = rank >= statusRank('DOCUMENTS_UPLOADED');
  const step = (done: boolean, enabled: boolean, label: string, action: string, id: string, extra = '') =>
    `<li><form method="post" action="${escapeHtml(`${actionBase}/${action}`)}">${extra}` +
    `<button type="submit" id="${id}"${enabled && !done ? '' : ' disabled'}>${label}</button>` +
    `${done ? ' <span class="done">done</span>' : ''}</form></li>`;
  const outcome = (d: CanonicalDecision) =>
    `<label><input type="radio" name="outcome" value="${d}"${d === tx.outcome ? ' checked' : ''}> ${d}</label> `;
  // The flat contract has three outcomes; v5 and RiskOS can also say review.
  const outcomes: readonly CanonicalDecision[] = tx.dialect === 'asyncapi' ? DECISIONS : CANONICAL_DECISIONS;
  const result = over
    ? `<p id="result">Session over: <strong>${escapeHtml(tx.status)}</strong>${tx.decision ? ` (decision <strong>${escapeHtml(tx.decision)}</strong>)` : ''}.</p>` +
      (tx.redirectUrl ? `<p><a id="continue" href="${escapeHtml(tx.redirectUrl)}">Continue</a></p>` : '')
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>DocV sandbox capture</title><style nonce="${escapeHtml(nonce)}">${STYLE}</style></head>
<body><h1>DocV sandbox capture</h1>
<p>Transaction <code>${escapeHtml(tx.docvTransactionId)}</code> · document <code>${escapeHtml(tx.documentType)}</code> ·
status <strong id="status">${escapeHtml(tx.status)}</strong></p>
${notice ? `<p class="notice" id="notice">${escapeHtml(notice)}</p>` : ''}
${result}
<ol>
${step(opened, !over, 'Open the app', 'open', 'open-app')}
${step(uploaded, !over && opened, 'Upload documents', 'upload', 'upload-documents')}
${step(tx.status === 'VERIFICATION_COMPLETED', !over && uploaded, 'Finish', 'finish', 'finish', over ? '' : `<fieldset>${outcomes.map(outcome).join('')}</fieldset>`)}
</ol>
<p><small>Each step sends its webhook events (${escapeHtml(tx.dialect)}): ${escapeHtml(STEP_EVENTS[tx.dialect])}.</small></p>
</body></html>`;
}
