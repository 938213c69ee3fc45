import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { AuthConfigError, createInboundAuth, type InboundAuth } from '../auth/index.js';
import { ConfigError, createReceiverPipeline, type ReceiverConfig } from '../compose/index.js';
import type { SourceConfig } from '../compose/config.js';
import { summarizeSource, type SourceSummary } from '../compose/source-summary.js';
import { DEFAULT_SOURCE } from '../contract/index.js';
import type { IngestPipeline, IngestResponse, ReprocessRequest } from '../ingest/index.js';
import { sourceRefusal } from '../ingest/pipeline.js';
import type { Store } from '../store/index.js';

/** One source as the server serves it: its configuration, credentials and pipeline. */
export interface SourceRoute {
  readonly source: SourceConfig;
  readonly auth: InboundAuth;
  readonly pipeline: IngestPipeline;
}

/** Routes built and checked, not yet served (SourceRouter.prepare). */
export interface PreparedSources {
  readonly routes: readonly SourceRoute[];
}

/** A prepared table, and the one it was built against (a commit after another swap would report against the wrong one). */
const preparedTables = new WeakMap<PreparedSources, { basis: Table; table: Table }>();

/** What a swap changed, by source name. */
export interface SourceSwapReport {
  added: string[];
  removed: string[];
  /** Path, credentials, dialect, allow-list, environment, retention or decision fetch differ. */
  changed: string[];
}

export interface SourceRouterOptions {
  /** The receiver-wide settings every pipeline takes (body limit, failure limit, trustProxy, document data). */
  config: ReceiverConfig;
  store: Store;
  logger: Logger;
  /** As createReceiverPipeline's: the dispatcher woken, dispatch's share of the machine. */
  onAccepted?: (() => void) | undefined;
  beforeIngest?: (() => Promise<void> | null) | undefined;
}

interface Table {
  readonly byPath: ReadonlyMap<string, SourceRoute>;
  readonly byName: ReadonlyMap<string, SourceRoute>;
  /** In configuration order: the first is the one `webhookUrl` names. */
  readonly routes: readonly SourceRoute[];
}

/**
 * The sources a receiver serves, looked up per request. A reload builds every new route first,
 * then replaces the whole table in one assignment: a configuration that fails to build changes
 * nothing, and a request already dispatched keeps the pipeline it resolved (it holds the object,
 * not the table), so in-flight deliveries finish as they started.
 *
 * Each source has its own failure limiter (createReceiverPipeline makes one per pipeline), not
 * one shared: every Socure account delivers from the same egress addresses, so failures on one
 * misconfigured source (a secret rotated on one side only) must not block the others' deliveries
 * with 429. The cost is that a brute-forcing address gets the limit once per source, a bound the
 * operator sets by configuring sources. A source whose configuration a reload leaves as it was
 * keeps its route, and so its limiter's state; a changed one starts afresh.
 */
export class SourceRouter {
  private table: Table;

  constructor(
    private readonly options: SourceRouterOptions,
    sources: readonly SourceConfig[],
  ) {
    this.table = this.build(sources, null);
  }

  /** The largest body any source reads (one receiver-wide limit). */
  get maxBodyBytes(): number {
    return this.options.config.maxBodyBytes;
  }

  /**
   * Serves `sources` from now on; throws ConfigError (naming the source) and keeps the current
   * table when any of them cannot be built.
   */
  swap(sources: readonly SourceConfig[]): SourceSwapReport {
    return this.commit(this.prepare(sources));
  }

  /**
   * Builds the routes of `sources` (credentials, pipelines) without serving them: ConfigError when
   * one cannot be built. For a reload that has more to check before it commits.
   */
  prepare(sources: readonly SourceConfig[]): PreparedSources {
    const table = this.build(sources, this.table);
    const prepared: PreparedSources = { routes: table.routes };
    preparedTables.set(prepared, { basis: this.table, table });
    return prepared;
  }

  /** Serves a prepared table from now on, in one assignment. */
  commit(prepared: PreparedSources): SourceSwapReport {
    const tables = preparedTables.get(prepared);
    if (tables?.basis !== this.table) throw new Error('the sources changed since these routes were prepared');
    const previous = this.table;
    const next = tables.table;
    this.table = next;
    return {
      added: next.routes.filter((r) => !previous.byName.has(r.source.name)).map((r) => r.source.name),
      removed: previous.routes.filter((r) => !next.byName.has(r.source.name)).map((r) => r.source.name),
      changed: next.routes
        .filter((r) => {
          const before = previous.byName.get(r.source.name);
          return before !== undefined && before !== r;
        })
        .map((r) => r.source.name),
    };
  }

  /** The pipeline of the source served at `path` (the path alone: no query string), if any. */
  pipelineForPath(path: string): IngestPipeline | undefined {
    return this.table.byPath.get(path)?.pipeline;
  }

  pipelineForSource(name: string): IngestPipeline | undefined {
    return this.table.byName.get(name)?.pipeline;
  }

  /** The routes, in configuration order. */
  routes(): readonly SourceRoute[] {
    return this.table.routes;
  }

  /** The sources as `GET /v1/sources` shows them: secrets as fingerprints. */
  summaries(): SourceSummary[] {
    return this.table.routes.map((r) => summarizeSource(r.source));
  }

  /**
   * Runs a quarantined body through the current pipeline of the source it came through; a source
   * no longer configured answers 409 (its row stays as it is, to be reprocessed once it is back).
   */
  reprocess(request: ReprocessRequest): Promise<IngestResponse> {
    const name = request.source ?? DEFAULT_SOURCE;
    const pipeline = this.pipelineForSource(name);
    if (pipeline) return pipeline.reprocess({ ...request, source: name });
    return Promise.resolve(
      sourceRefusal(
        name,
        `source ${JSON.stringify(name)} is no longer configured on this receiver: configure it again to reprocess its bodies`,
      ),
    );
  }

  private build(sources: readonly SourceConfig[], previous: Table | null): Table {
    if (sources.length === 0) throw new ConfigError('a receiver needs at least one source');
    const byPath = new Map<string, SourceRoute>();
    const byName = new Map<string, SourceRoute>();
    const routes: SourceRoute[] = [];
    for (const source of sources) {
      if (byName.has(source.name)) throw new ConfigError(`source ${JSON.stringify(source.name)} is configured twice`);
      const other = byPath.get(source.path);
      if (other)
        throw new ConfigError(
          `sources ${JSON.stringify(other.source.name)} and ${JSON.stringify(source.name)} have the same path ${source.path}`,
        );
      const kept = previous?.byName.get(source.name);
      const route = kept && isDeepStrictEqual(kept.source, source) ? kept : this.route(source);
      byPath.set(source.path, route);
      byName.set(source.name, route);
      routes.push(route);
    }
    return { byPath, byName, routes };
  }

  private route(source: SourceConfig): SourceRoute {
    const { config, store, logger, onAccepted, beforeIngest } = this.options;
    const auth = sourceAuth(source, config.auth.trustProxy);
    const pipeline = createReceiverPipeline({
      config,
      store,
      logger,
      auth,
      onAccepted,
      beforeIngest,
      source: { name: source.name, dialect: source.dialect },
    });
    return { source, auth, pipeline };
  }
}

/** A source's credentials with the receiver's trustProxy; ConfigError naming the source when they cannot work. */
export function sourceAuth(source: SourceConfig, trustProxy: boolean | undefined): InboundAuth {
  try {
    return createInboundAuth({ ...source.auth, ...(trustProxy !== undefined ? { trustProxy } : {}) });
  } catch (err) {
    if (!(err instanceof AuthConfigError)) throw err;
    throw new ConfigError(`${sourcePrefix(source.name)}${err.message}`);
  }
}

/**
 * `source "prod": ` before a message about one source. Not for DEFAULT_SOURCE: the single source
 * the flags make is named by the flag in the message, and a name never configured would puzzle.
 */
export function sourcePrefix(name: string): string {
  return name === DEFAULT_SOURCE ? '' : `source ${JSON.stringify(name)}: `;
}
