import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import {
  validateDestinationConfig,
  validateSocure,
  type ReceiverConfig,
  type WiredDispatch,
} from '../compose/index.js';
import { validateConfiguredDestinations } from '../compose/configured-destinations.js';
import { registerReloadedDestinations, type DestinationSyncReport } from '../compose/destination-registration.js';
import type { RetentionJob } from '../compose/retention-job.js';
import { validateSources } from '../compose/sources.js';
import type { Store } from '../store/index.js';
import type { SourceSwapReport } from './source-router.js';

/*
 * What `serve` and `worker` share of a reload (SIGHUP with a config file): the checks a
 * configuration passes at start, the config file's destinations written to the store, dispatch and
 * retention told. The receiver swaps its sources besides (start.ts).
 */

/** What a worker's reload changed (a worker serves no source). */
export interface WorkerReloadReport {
  destinations: DestinationSyncReport;
  /** Settings that differ from the running ones but only a restart applies (`port`, `timeouts`, …). */
  restartNeeded: string[];
}

/** What a receiver's reload changed. */
export interface ReloadReport extends WorkerReloadReport {
  sources: SourceSwapReport;
}

/**
 * The checks resolveReceiverConfig makes at start, for a configuration that did not come through
 * it (the config file checked its part already, with lines; a library caller's object did not).
 * ConfigError; nothing has changed yet.
 */
export function checkReloadable(next: ReceiverConfig): void {
  if (next.sources?.length) validateSources(next.sources);
  validateConfiguredDestinations(next);
  validateDestinationConfig(next);
  validateSocure(next.socure);
}

/** Of `keys`, those whose value differs between the running configuration and `next`. */
export function restartNeeded(
  keys: ReadonlyArray<keyof ReceiverConfig>,
  next: ReceiverConfig,
  running: ReceiverConfig,
): string[] {
  return keys.filter((key) => !isDeepStrictEqual(next[key], running[key]));
}

/**
 * The config file's destinations written to the store (those it no longer declares disabled),
 * then dispatch (decision fetch per source, forwards) and retention (per-source policies) told.
 * A store that fails midway throws; the next reload writes the destinations again.
 */
export async function reloadDispatch(
  parts: { store: Store; wired: WiredDispatch; retention: RetentionJob; logger: Logger },
  next: ReceiverConfig,
  previous: ReceiverConfig,
): Promise<DestinationSyncReport> {
  const destinations = await registerReloadedDestinations(next, previous, parts.store, parts.logger);
  await parts.wired.reconfigure(next);
  parts.retention.reconfigure(next);
  return destinations;
}

/** The one line a reload logs: what changed, by name. */
export function logReload(logger: Logger, report: WorkerReloadReport & { sources?: SourceSwapReport }): void {
  const { sources, destinations, restartNeeded: restart } = report;
  logger.info(
    {
      ...(sources
        ? { sourcesAdded: sources.added, sourcesRemoved: sources.removed, sourcesChanged: sources.changed }
        : {}),
      destinationsAdded: destinations.added,
      destinationsUpdated: destinations.updated,
      destinationsDisabled: destinations.disabled,
      ...(restart.length ? { restartNeeded: restart } : {}),
    },
    `configuration reloaded: ${describeReload(report)}`,
  );
}

/** `sources added sandbox; destinations unchanged`: what a reload did, in a few words. */
function describeReload(report: WorkerReloadReport & { sources?: SourceSwapReport }): string {
  const part = (what: string, changes: Record<string, string[]>) => {
    const said = Object.entries(changes)
      .filter(([, names]) => names.length > 0)
      .map(([how, names]) => `${how} ${names.join(', ')}`);
    return `${what} ${said.length ? said.join(', ') : 'unchanged'}`;
  };
  const { sources, destinations, restartNeeded: restart } = report;
  return [
    ...(sources ? [part('sources', { added: sources.added, removed: sources.removed, changed: sources.changed })] : []),
    part('destinations', { added: destinations.added, updated: destinations.updated, disabled: destinations.disabled }),
    ...(restart.length ? [`not applied until a restart: ${restart.join(', ')}`] : []),
  ].join('; ');
}

/** Runs reloads one at a time (two SIGHUPs in a row): each starts from what the previous one applied. */
export function oneAtATime<A, R>(run: (arg: A) => Promise<R>): (arg: A) => Promise<R> {
  let last: Promise<unknown> = Promise.resolve();
  return (arg) => {
    const next = last.then(() => run(arg));
    last = next.catch(() => undefined);
    return next;
  };
}
