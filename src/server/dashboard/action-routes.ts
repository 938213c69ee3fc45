import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sourceNameProblem } from '../../contract/index.js';
import { DELIVERY_STATES, StoreUnavailableError, type DeliveryState, type ReplayFilter } from '../../store/index.js';
import {
  MAX_REPROCESS_BATCH,
  reprocessQuarantine,
  reprocessQuarantineEntry,
  type ReprocessItem,
} from '../admin-quarantine-routes.js';
import {
  acceptForms,
  dashboardPagePolicy,
  dashboardPath,
  field,
  formOf,
  postAllowed,
  seeOther,
  withMessage,
  type FormFields,
} from './forms.js';
import type { DashboardAuthOptions } from './login-routes.js';

/** A field the operator got wrong: said back to them in the banner, nothing changed. */
class BadInput extends Error {}

/** An instant from a form: RFC 3339, or a `datetime-local` value (no offset), read as UTC as the pages say. */
function instant(form: FormFields, name: string): Date | undefined {
  const value = field(form, name);
  if (value === undefined) return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(:\d{2}(?:\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})?$/.exec(value);
  const at = match ? new Date(`${match[1]}T${match[2]}${match[3] ?? ':00'}${match[4] ?? 'Z'}`) : null;
  if (at === null || Number.isNaN(at.getTime()))
    throw new BadInput(
      `${name} must be a date and time such as 2026-03-01T10:00 (UTC), not ${JSON.stringify(value.slice(0, 40))}`,
    );
  return at;
}

function timeRange(form: FormFields): { from?: Date; to?: Date } {
  const from = instant(form, 'from');
  const to = instant(form, 'to');
  if (from && to && from >= to) throw new BadInput('from must be before to');
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

function deliveryState(form: FormFields): DeliveryState | undefined {
  const value = field(form, 'state');
  if (value === undefined) return undefined;
  if (!(DELIVERY_STATES as readonly string[]).includes(value))
    throw new BadInput(`state must be one of ${DELIVERY_STATES.join(', ')}`);
  return value as DeliveryState;
}

/** A source named by a form (the page's filter, or the transaction a replay is of). */
function sourceField(form: FormFields): string | undefined {
  const value = field(form, 'source');
  if (value === undefined) return undefined;
  const why = sourceNameProblem(value);
  if (why !== null) throw new BadInput(`source: ${why}`);
  return value;
}

function bounded(form: FormFields, name: string, max: number): string | undefined {
  const value = field(form, name);
  if (value !== undefined && value.length > max) throw new BadInput(`${name} is longer than ${max} characters`);
  return value;
}

function integer(form: FormFields, name: string, min: number, max: number): number | undefined {
  const value = field(form, name);
  if (value === undefined) return undefined;
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new BadInput(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

function yesNo(form: FormFields, name: string): boolean | undefined {
  const value = field(form, name);
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new BadInput(`${name} must be true or false`);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function shown(id: string): string {
  return JSON.stringify(id.slice(0, 200));
}

/** A row's reprocessing in words, for the banner. */
function reprocessOutcome(item: ReprocessItem): { kind: 'done' | 'error'; message: string } {
  if (item.outcome === 'accepted') return { kind: 'done', message: `Reprocessed: accepted as event ${item.eventId}.` };
  if (item.outcome === 'duplicate')
    return { kind: 'done', message: `Reprocessed: a duplicate of event ${item.eventId}, which is stored already.` };
  if (item.outcome === 'unavailable')
    return { kind: 'error', message: 'The store cannot be reached right now; nothing was reprocessed. Try again.' };
  const detail = (item.problem as { detail?: unknown } | undefined)?.detail;
  return {
    kind: 'error',
    message: `Reprocessed, and still refused (${item.status} ${item.outcome})${typeof detail === 'string' ? `: ${detail.slice(0, 300)}` : '.'}`,
  };
}

/**
 * What the dashboard's buttons do: retry a delivery, replay a transaction or a filtered set,
 * reprocess quarantined bodies, pause or resume a destination. Every one is a form POST that
 * passes the CSRF and origin checks (forms.ts), changes the store through the same calls as the
 * admin API, and answers 303 to the page it came from with a message for the banner; a bad value
 * is a message too, never a 500.
 */
export async function dashboardActionRoutes(app: FastifyInstance, options: DashboardAuthOptions): Promise<void> {
  const { store, behindProxy } = options;
  acceptForms(app);
  dashboardPagePolicy(app);
  app.addHook('preHandler', async (request, reply) => {
    if (!postAllowed(request, reply, behindProxy)) return reply;
  });

  /** Runs an action and sends the browser back with its message. */
  function action<P>(
    path: string,
    run: (params: P, form: FormFields, request: FastifyRequest) => Promise<{ kind: 'done' | 'error'; message: string }>,
  ): void {
    app.post(path, async (request: FastifyRequest, reply: FastifyReply) => {
      const form = formOf(request);
      const back = dashboardPath(form.returnTo) ?? '/dashboard';
      let result: { kind: 'done' | 'error'; message: string };
      try {
        result = await run(request.params as P, form, request);
      } catch (err) {
        if (err instanceof BadInput) result = { kind: 'error', message: err.message };
        else if (err instanceof StoreUnavailableError)
          result = { kind: 'error', message: 'The store cannot be reached right now; nothing was changed. Try again.' };
        else throw err;
      }
      return seeOther(reply, withMessage(back, result.kind, result.message));
    });
  }

  action<{ deliveryId: string }>('/dashboard/deliveries/:deliveryId/retry', async ({ deliveryId }) => {
    const delivery = await store.retryDelivery(deliveryId);
    if (!delivery) return { kind: 'error', message: `No delivery ${shown(deliveryId)}.` };
    options.onOutboxChange?.();
    return {
      kind: 'done',
      message:
        delivery.state === 'pending'
          ? `Delivery ${delivery.deliveryId} is queued for another attempt.`
          : `Delivery ${delivery.deliveryId} is ${delivery.state}.`,
    };
  });

  action<{ id: string }>('/dashboard/transactions/:id/replay', async ({ id }, form) => {
    const destination = bounded(form, 'destination', 1000);
    if (destination === undefined) throw new BadInput('Choose a destination to replay the transaction to.');
    // The page's form names its transaction's source: the same id under another source is another transaction.
    const requeued = await store.replay({ docvTransactionId: id, destination, source: sourceField(form) });
    if (requeued === 0)
      return {
        kind: 'error',
        message: `Nothing to replay: transaction ${shown(id)} has no deliveries to ${destination}.`,
      };
    options.onOutboxChange?.();
    return { kind: 'done', message: `Re-queued ${plural(requeued, 'delivery', 'deliveries')} to ${destination}.` };
  });

  action<Record<string, never>>('/dashboard/deliveries/replay', async (_params, form) => {
    const filter: ReplayFilter = {
      source: sourceField(form),
      state: deliveryState(form),
      destination: bounded(form, 'destination', 1000),
      ...timeRange(form),
    };
    const expected = integer(form, 'expected', 0, 1_000_000_000);
    // An empty filter is every delivery ever made: too big a lever for one button.
    if (Object.values(filter).every((v) => v === undefined))
      throw new BadInput(
        'Choose a source, a state, a destination or a time range to replay: an empty filter would replay everything.',
      );
    const requeued = await store.replay(filter);
    if (requeued > 0) options.onOutboxChange?.();
    const changed =
      expected !== undefined && expected !== requeued
        ? ` (the confirmation showed ${expected.toLocaleString('en-US')}: the set changed in between)`
        : '';
    return { kind: 'done', message: `Re-queued ${plural(requeued, 'delivery', 'deliveries')}${changed}.` };
  });

  action<{ quarantineId: string }>('/dashboard/quarantine/:quarantineId/reprocess', async ({ quarantineId }) => {
    const entry = await store.getQuarantine(quarantineId);
    if (!entry) return { kind: 'error', message: `No quarantined delivery ${shown(quarantineId)}.` };
    if (entry.bodyTruncated)
      return {
        kind: 'error',
        message: `Only ${entry.body.length} of the ${entry.bodySize} bytes of this body were kept, so it cannot be run through ingest again.`,
      };
    return reprocessOutcome(await reprocessQuarantineEntry(store, options.reprocess, entry));
  });

  action<Record<string, never>>('/dashboard/quarantine/reprocess', async (_params, form) => {
    const summary = await reprocessQuarantine(
      store,
      options.reprocess,
      {
        limit: MAX_REPROCESS_BATCH,
        source: sourceField(form),
        reason: bounded(form, 'reason', 64),
        status: integer(form, 'status', 100, 599),
        reprocessed: yesNo(form, 'reprocessed'),
        ...timeRange(form),
      },
      MAX_REPROCESS_BATCH,
    );
    if (summary.processed === 0 && summary.skippedTruncated === 0)
      return { kind: 'error', message: 'Nothing in the quarantine matches this filter.' };
    const parts = [
      `${summary.accepted.toLocaleString('en-US')} accepted`,
      `${plural(summary.duplicate, 'duplicate')}`,
      `${summary.stillRejected.toLocaleString('en-US')} still refused`,
      ...(summary.unavailable ? [`${summary.unavailable} not run (the store was unavailable)`] : []),
      ...(summary.skippedTruncated ? [`${summary.skippedTruncated} skipped (body kept only in part)`] : []),
    ];
    const more =
      summary.processed + summary.skippedTruncated >= MAX_REPROCESS_BATCH ? ' Run it again for the rest.' : '';
    return {
      kind: 'done',
      message: `Reprocessed ${plural(summary.processed, 'body', 'bodies')}: ${parts.join(', ')}.${more}`,
    };
  });

  for (const [verb, state, word] of [
    ['pause', 'disabled', 'paused'],
    ['resume', 'active', 'resumed'],
  ] as const) {
    action<{ name: string }>(`/dashboard/destinations/:name/${verb}`, async ({ name }, _form, request) => {
      const destination = await store.setDestinationState(name, state);
      if (!destination) return { kind: 'error', message: `No destination ${shown(name)}.` };
      request.log.info(
        { destination: destination.name, state },
        `destination ${destination.name} ${state} from the dashboard`,
      );
      options.onDestinationsChange?.();
      return { kind: 'done', message: `Destination ${destination.name} is ${word}.` };
    });
  }
}
