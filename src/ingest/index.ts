export {
  createIngestPipeline,
  DEFAULT_MAX_BODY_BYTES,
  type IngestPipeline,
  type IngestPipelineOptions,
  type ReprocessRequest,
} from './pipeline.js';
export { problem, PROBLEM_CONTENT_TYPE, type Problem } from './problem.js';
export type { IngestRequest, IngestResponse, IngestOutcome, IngestAuthenticator, AuthFailureLimiter } from './types.js';
