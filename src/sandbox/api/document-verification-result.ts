import { badRequest } from '../errors.js';
import { newReferenceId } from '../ids.js';
import { idPlusResult, type IdPlusResult } from '../id-plus-result.js';
import type { DocvService } from '../service.js';
import { customerUserIdField } from './create-transaction.js';
import { asObject, optionalString } from './validate.js';

/**
 * `POST /api/3.0/EmailAuthScore` with `"modules": ["documentverification"]`: the result of a
 * transaction, looked up by `docvTransactionToken` (the `docvTransactionId` the create call
 * answered). `customerUserId` and `email` are checked for type and otherwise ignored: the
 * transaction already knows its user.
 */
export function documentVerificationResult(deps: { service: DocvService }, body: unknown): IdPlusResult {
  const obj = asObject(body);
  const token = optionalString(obj, 'docvTransactionToken');
  if (token === undefined)
    throw badRequest('docvTransactionToken is required: the docvTransactionId that Create A DocV Transaction answered');
  customerUserIdField(obj);
  optionalString(obj, 'email', 320);
  const tx = deps.service.require(token);
  return idPlusResult({
    subject: deps.service.subjectOf(tx),
    decision: tx.decision,
    completedAt: new Date(tx.completedAt ?? tx.createdAt),
    referenceId: newReferenceId(),
  });
}
