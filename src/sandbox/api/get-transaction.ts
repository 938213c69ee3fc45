import type { FastifyInstance } from 'fastify';
import { syntheticVerification } from '../document-data.js';
import type { DocvService } from '../service.js';
import type { TransactionRecord } from '../records.js';

/**
 * Get A DocV Transaction in the `DocvDecision` shape. Until the verification completes there is
 * no decision and no verification data, just where the session stands (`status`, a sandbox
 * addition: `CREATED` or the latest lifecycle event).
 */
export function docvDecisionView(tx: TransactionRecord): Record<string, unknown> {
  const base = {
    referenceId: tx.referenceId,
    docvTransactionId: tx.docvTransactionId,
    ...(tx.customerUserId !== undefined ? { customerUserId: tx.customerUserId } : {}),
    status: tx.status,
  };
  if (tx.decision === undefined) return base;
  return {
    ...base,
    ...syntheticVerification(
      tx.docvTransactionId,
      tx.decision,
      tx.documentType,
      tx.country,
      new Date(tx.completedAt ?? tx.createdAt),
    ),
  };
}

export function registerGetTransaction(app: FastifyInstance, deps: { service: DocvService }): void {
  app.get<{ Params: { docvTransactionId: string } }>('/api/3.0/documents/:docvTransactionId', async (req) =>
    docvDecisionView(deps.service.require(req.params.docvTransactionId)),
  );
}
