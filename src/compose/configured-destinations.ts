import { KNOWN_EVENT_TYPES } from '../contract/canonical-event.js';
import { storedForwardUrl } from '../dispatch/index.js';
import { closestWord } from './closest-word.js';
import { sourcesOf, type ConfiguredDestination, type ReceiverConfig } from './config.js';
import { ConfigError } from './errors.js';
import { formatJsonPath } from './json-path.js';

/** What is wrong with one configured destination; `path` is relative to it. */
export interface DestinationProblem {
  index: number;
  path: ReadonlyArray<string | number>;
  message: string;
}

/**
 * Every problem of the config file's destinations: a URL that is not http(s) or a broker's, one given twice
 * (here or as --forward-url: the store keeps one destination per host and path), a subscription
 * naming a source that is not declared (`default` when none is), an event type that is a typo of
 * a known one. Other event types are taken as they are: the set is open, as senders add types.
 */
export function configuredDestinationProblems(
  destinations: readonly ConfiguredDestination[],
  sourceNames: readonly string[],
  forwardUrls: readonly string[] = [],
): DestinationProblem[] {
  const problems: DestinationProblem[] = [];
  const seen = new Map<string, string>();
  for (const url of forwardUrls) {
    try {
      seen.set(storedForwardUrl(url).name, '--forward-url');
    } catch {
      // Reported by validateDestinationConfig, with the flag.
    }
  }
  destinations.forEach((destination, index) => {
    const problem = (path: ReadonlyArray<string | number>, message: string) => problems.push({ index, path, message });
    if (destination === null || typeof destination !== 'object') return problem([], 'must be an object');
    try {
      const { name } = storedForwardUrl(destination.url);
      const first = seen.get(name);
      if (first !== undefined) problem(['url'], `${name} is also ${first}: give each host and path once`);
      else seen.set(name, formatJsonPath(['destinations', index], ''));
    } catch (err) {
      problem(['url'], (err as Error).message);
    }
    listProblems(destination.sources, ['sources'], problem, (name) =>
      sourceNames.includes(name)
        ? null
        : `"${name.slice(0, 80)}" is not a declared source (${sourceNames.map((n) => `"${n}"`).join(', ')})`,
    );
    listProblems(destination.eventTypes, ['eventTypes'], problem, eventTypeProblem);
  });
  return problems;
}

function listProblems(
  list: readonly string[] | undefined,
  path: readonly string[],
  problem: (path: ReadonlyArray<string | number>, message: string) => void,
  entryProblem: (entry: string) => string | null,
): void {
  if (list === undefined) return;
  if (!Array.isArray(list) || list.length === 0)
    return problem(path, 'must be a list of at least one entry (leave it out for all)');
  const seen = new Set<string>();
  list.forEach((entry: unknown, i) => {
    if (typeof entry !== 'string' || entry === '') return problem([...path, i], 'must be a non-empty string');
    if (seen.has(entry)) return problem([...path, i], `"${entry.slice(0, 80)}" is listed twice`);
    seen.add(entry);
    const message = entryProblem(entry);
    if (message) problem([...path, i], message);
  });
}

function eventTypeProblem(eventType: string): string | null {
  if ((KNOWN_EVENT_TYPES as readonly string[]).includes(eventType)) return null;
  const meant = closestWord(eventType, KNOWN_EVENT_TYPES);
  return meant === undefined ? null : `"${eventType}" is not an event type; did you mean ${meant}?`;
}

/** Refuses the destinations of a configuration that cannot work (ConfigError listing every problem). */
export function validateConfiguredDestinations(config: ReceiverConfig): void {
  const destinations = config.destinations ?? [];
  if (destinations.length === 0) return;
  const problems = configuredDestinationProblems(
    destinations,
    declaredSourceNames(config),
    config.dispatch.forwardUrls,
  );
  if (problems.length === 0) return;
  throw new ConfigError(
    problems.map((p) => `${formatJsonPath(['destinations', p.index, ...p.path], '')}: ${p.message}`).join('\n'),
  );
}

/** The source names a destination may subscribe to: the declared ones, or DEFAULT_SOURCE when none is. */
export function declaredSourceNames(config: ReceiverConfig): string[] {
  return sourcesOf(config).map((s) => s.name);
}
