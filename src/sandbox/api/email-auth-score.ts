import type { FastifyInstance } from 'fastify';
import { createTransaction, type CreateTransactionDeps } from './create-transaction.js';
import { documentVerificationResult } from './document-verification-result.js';

/** Which call a body is, by its modules: the real API has one path for both. */
function asksForResult(body: unknown): boolean {
  const modules = body !== null && typeof body === 'object' ? (body as { modules?: unknown }).modules : undefined;
  if (!Array.isArray(modules)) return false;
  const named = (m: string) => modules.some((x) => typeof x === 'string' && x.toLowerCase() === m);
  return named('documentverification') && !named('docvtransaction');
}

/**
 * `POST /api/3.0/EmailAuthScore`, Socure's ID+ endpoint: with module `docvtransaction` it creates
 * a transaction; with `documentverification` alone it answers the transaction's result. Anything
 * else is a create request that explains what modules it needs.
 */
export function registerEmailAuthScore(app: FastifyInstance, deps: CreateTransactionDeps): void {
  app.post('/api/3.0/EmailAuthScore', async (req) => {
    if (asksForResult(req.body)) return documentVerificationResult(deps, req.body);
    const { tx, answer } = await createTransaction(deps, req.body);
    req.log.info(
      { docvTransactionId: tx.docvTransactionId, scenario: tx.scenario, dialect: tx.dialect },
      'transaction created',
    );
    return answer;
  });
}
