import type { Logger } from 'pino';
import type { DeliveryPlan } from './destination-plan.js';

/**
 * Says where the store and this process disagree, each thing once (`reported` remembers what was
 * said, across the periodic re-reads). `dispatching`: only a process that delivers cares which
 * destinations it cannot take or takes without its flags naming them.
 */
export function reportDisagreements(
  plan: DeliveryPlan,
  logger: Logger,
  reported: Set<string>,
  dispatching: boolean,
): void {
  // What no longer holds is forgotten, so that it is said again if it comes back.
  const current = new Set([
    ...plan.disabled.map((name) => `disabled:${name}`),
    ...plan.urlDiffers.map((name) => `url:${name}`),
    ...plan.notInFlags.map((name) => `store:${name}`),
    ...plan.cannot.map(({ name, why }) => `cannot:${name}:${why}`),
  ]);
  for (const key of reported) if (!current.has(key)) reported.delete(key);
  const once = (key: string, say: () => void) => {
    if (reported.has(key)) return;
    reported.add(key);
    say();
  };
  for (const name of plan.disabled) {
    once(`disabled:${name}`, () =>
      logger.warn(
        { destination: name },
        `${name} is disabled in the store: it gets no new deliveries and its waiting ones are not attempted; the flags do not enable it again (docv-webhooks destinations enable ${name})`,
      ),
    );
  }
  for (const name of plan.urlDiffers) {
    once(`url:${name}`, () =>
      logger.warn(
        { destination: name },
        `${name}: the store's URL differs from this process's --forward-url (same host and path); this process delivers to its own`,
      ),
    );
  }
  if (!dispatching) return;
  const fresh = plan.notInFlags.filter((name) => !reported.has(`store:${name}`));
  if (fresh.length > 0) {
    for (const name of fresh) reported.add(`store:${name}`);
    // Flags that name some destinations but not these disagree with the store; no flags at all
    // is a process that leaves the destinations to the store, which needs no warning.
    const say = plan.flagged ? logger.warn.bind(logger) : logger.info.bind(logger);
    say(
      { destinations: fresh },
      plan.flagged
        ? `active destinations in the store not named by this process's flags: ${fresh.join(', ')}; delivering to them too (docv-webhooks destinations list; disable one to stop it everywhere)`
        : `delivering the store's destinations: ${fresh.join(', ')}`,
    );
  }
  for (const { name, why } of plan.cannot) {
    once(`cannot:${name}:${why}`, () =>
      logger.warn({ destination: name }, `cannot deliver ${name}: ${why}; its deliveries wait for a process that can`),
    );
  }
}
