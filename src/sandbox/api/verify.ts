import type { FastifyInstance } from 'fastify';
import type { DocvService } from '../service.js';
import { docvDecisionView } from './get-transaction.js';
import { asObject, optionalString } from './validate.js';
import { badRequest } from '../errors.js';

/**
 * `POST /api/3.0/documents/verify`: finalises a transaction whose documents are all uploaded and
 * answers the decision. Asking again answers the same decision (no second event).
 */
export function registerVerify(app: FastifyInstance, deps: { service: DocvService }): void {
  app.post('/api/3.0/documents/verify', async (req) => {
    const id = optionalString(asObject(req.body), 'docvTransactionId');
    if (id === undefined) throw badRequest('docvTransactionId is required');
    return docvDecisionView(deps.service.complete(id));
  });
}
