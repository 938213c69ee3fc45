export * from './types.js';
export {
  parseDocvEvent,
  contractViolations,
  isRfc3339DateTime,
  MAX_TRANSACTION_ID_LENGTH,
  type ParseResult,
} from './validate.js';
export { canonicalJson, contentKey } from './canonical.js';
export {
  DEFAULT_WEBHOOK_PATH,
  MESSAGE_SUMMARIES,
  SPEC_TITLE,
  SPEC_VERSION,
  docvEventSchema,
} from './generated/schema.js';
export { jsonTextProblem, exceedsJsonDepth, MAX_JSON_DEPTH } from './json-text.js';
export { eventTimeMs } from './event-time.js';
export * from './canonical-event.js';
export { canonicalOfFlat, canonicalFromStored, storedMetadata } from './stored-event.js';
export * from './dialects/index.js';
export { parseJsonBody, type JsonBodyResult } from './validate.js';
export type { SocureV5Notification, RiskosEvent } from './generated/dialect-types.js';
export { DEFAULT_SOURCE, sourceNameProblem } from './source.js';
