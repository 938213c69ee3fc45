import type { Logger } from 'pino';
import { createIngestPipeline, type IngestAuthenticator, type IngestPipeline } from '../ingest/index.js';
import type { Store } from '../store/index.js';
import type { ReceiverConfig, SourceConfig } from './config.js';
import { receiverFailureLimiter } from './failure-limiter.js';

export interface ReceiverPipelineOptions {
  config: ReceiverConfig;
  store: Store;
  logger: Logger;
  auth?: IngestAuthenticator | undefined;
  /**
   * Called after each delivery the store accepted (a reprocessed one included): the dispatcher
   * looks at the outbox now rather than at its next poll, which is what keeps hand-off latency at
   * milliseconds. Duplicates and refusals add no outbox row, so they do not wake it.
   */
  onAccepted?: (() => void) | undefined;
  /**
   * Before a delivery is taken in: null to go on at once, or a promise to wait for (dispatch's
   * share under a steady load: dispatch/backpressure.ts).
   */
  beforeIngest?: (() => Promise<void> | null) | undefined;
  /**
   * The source this pipeline is the endpoint of (its name and dialect; `auth` is built from its
   * credentials by the caller). Absent: the configuration's single source (DEFAULT_SOURCE).
   */
  source?: Pick<SourceConfig, 'name' | 'dialect'> | undefined;
}

/**
 * The ingest pipeline as every entry point builds it (the library, `serve`): the configuration's
 * limits and dialect, the failure limiter for its credentials, quarantine errors logged, and the
 * dispatcher woken on each accepted delivery.
 */
export function createReceiverPipeline(options: ReceiverPipelineOptions): IngestPipeline {
  const { config, store, logger, auth, onAccepted, beforeIngest, source } = options;
  const pipeline = createIngestPipeline({
    store,
    auth,
    failureLimiter: receiverFailureLimiter(config.authFailureLimit, auth?.configured ?? false, logger),
    maxBodyBytes: config.maxBodyBytes,
    dialect: source ? source.dialect : config.dialect,
    source: source?.name,
    keepDocumentData: config.socure.storeDocumentData,
    onQuarantineError: (err) => logger.error({ err, source: source?.name }, 'could not quarantine a rejected delivery'),
  });
  if (!onAccepted && !beforeIngest) return pipeline;
  return {
    maxBodyBytes: pipeline.maxBodyBytes,
    source: pipeline.source,
    admit: (head) => pipeline.admit(head),
    async handle(request) {
      const wait = beforeIngest?.();
      if (wait) await wait;
      const response = await pipeline.handle(request);
      if (response.outcome === 'accepted') onAccepted?.();
      return response;
    },
    async reprocess(request) {
      const response = await pipeline.reprocess(request);
      if (response.outcome === 'accepted') onAccepted?.();
      return response;
    },
  };
}
