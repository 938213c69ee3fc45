// `docv-webhooks/store`: the store and the ingest pipeline without the receiver around them, for
// code that composes its own: open a store from a URL (its driver is loaded then, not on import),
// build the pipeline over it, and serve that from Node's http or a Web handler.
// From the files, not the store's index: that one re-exports the SQLite and PostgreSQL classes,
// and with them their drivers.
export { openStore, DEFAULT_DATABASE_URL, type OpenStoreOptions } from '../store/open.js';
export { StoreUnavailableError } from '../store/types.js';
export type * from '../store/types.js';
export {
  createIngestPipeline,
  DEFAULT_MAX_BODY_BYTES,
  type IngestPipeline,
  type IngestPipelineOptions,
  type ReprocessRequest,
} from '../ingest/index.js';
// Not the ingest IngestOutcome: the store's type of that name (what a commit did) is the one exported here.
export type {
  IngestRequest,
  IngestRequestHead,
  IngestResponse,
  IngestAuthenticator,
  AuthFailureLimiter,
} from '../ingest/types.js';
export { createNodeHandler } from '../adapters/node.js';
export { createFetchHandler } from '../adapters/web.js';
export { createInboundAuth } from '../auth/inbound.js';
export type * from '../auth/types.js';
export type { HeaderMap } from '../auth/headers.js';
export type { CanonicalEvent, Dialect } from '../contract/canonical-event.js';
export type { AnomalyCode } from '../lifecycle/lifecycle.js';
export type { EncryptionKeys } from '../store/encryption/keys.js';
export { parseRetentionPolicy, type RetentionPolicy } from '../store/retention-policy.js';
export type { RekeyPosition, RekeyBatch } from '../store/encryption/rotation.js';
