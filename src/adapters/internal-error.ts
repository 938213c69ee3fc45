import { PROBLEM_CONTENT_TYPE, problem, type IngestResponse } from '../ingest/index.js';

/**
 * The answer when an adapter itself fails (the pipeline threw, the stream broke): nothing was
 * stored, so the sender is told to retry. One text for every framework, so a sender sees the
 * same 500 from `serve` and from a library mount.
 */
export const INTERNAL_ERROR_DETAIL = 'the delivery could not be processed; it was not stored, retry later';

export function internalErrorResponse(): IngestResponse {
  return {
    status: 500,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE },
    body: JSON.stringify(problem(500, 'internal', 'Internal Server Error', INTERNAL_ERROR_DETAIL)),
    outcome: 'unavailable',
  };
}
