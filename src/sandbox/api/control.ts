import type { FastifyInstance } from 'fastify';
import { isCanonicalDecision, isDocvEventType, DOCV_EVENT_TYPES } from '../../contract/index.js';
import { chaosFromJson, mergeChaos, type ChaosOverrides } from '../chaos.js';
import { badRequest, conflict } from '../errors.js';
import type { DocvService } from '../service.js';
import type { SandboxStore } from '../store.js';
import { deliveryView } from './deliveries.js';
import { asObject } from './validate.js';

export interface ChaosControl {
  get(): ChaosOverrides;
  set(value: ChaosOverrides): void;
}

const MAX_SET_FIELDS = 50;

/**
 * The sandbox's own endpoints, for tests and people: look inside a transaction, make any event
 * happen now, and turn the global chaos knobs.
 */
export function registerControl(
  app: FastifyInstance,
  deps: { service: DocvService; store: SandboxStore; chaos: ChaosControl; sessionUrl: (token: string) => string },
): void {
  app.get<{ Params: { id: string } }>('/sandbox/transactions/:id', async (req) => {
    const { sessionToken, ...tx } = deps.service.require(req.params.id);
    return {
      ...tx,
      sessionUrl: deps.sessionUrl(sessionToken),
      plannedSteps: deps.store.plannedSteps(tx.docvTransactionId),
      events: deps.store.listEvents(tx.docvTransactionId).map((e) => ({
        webhookId: e.eventId,
        eventType: e.eventType,
        payload: JSON.parse(e.body) as unknown,
        createdAt: new Date(e.createdAt).toISOString(),
      })),
      deliveries: deps.store
        .listDeliveries({ docvTransactionId: tx.docvTransactionId, limit: 1000 })
        .map((d) => deliveryView(d, deps.store)),
    };
  });

  app.post<{ Params: { id: string } }>('/sandbox/transactions/:id/events', async (req, reply) => {
    const body = asObject(req.body);
    const { eventType, decision, omitDecision, set, unset, force, chaos } = body;
    if (!isDocvEventType(eventType)) throw badRequest(`eventType must be one of ${DOCV_EVENT_TYPES.join(', ')}`);
    if (decision !== undefined && !isCanonicalDecision(decision))
      throw badRequest('decision must be accept, reject, resubmit or review');
    if (omitDecision !== undefined && typeof omitDecision !== 'boolean')
      throw badRequest('omitDecision must be true or false');
    if (force !== undefined && typeof force !== 'boolean') throw badRequest('force must be true or false');
    const setFields = set === undefined ? undefined : asObject(set, 'set');
    if (setFields && Object.keys(setFields).length > MAX_SET_FIELDS)
      throw badRequest(`set takes at most ${MAX_SET_FIELDS} fields`);
    if (
      unset !== undefined &&
      (!Array.isArray(unset) || unset.length > MAX_SET_FIELDS || !unset.every((u) => typeof u === 'string'))
    ) {
      throw badRequest('unset must be an array of field names');
    }
    const chaosOverrides = chaosFromJson(chaos);
    if (!chaosOverrides.ok) throw badRequest(`chaos: ${chaosOverrides.reason}`);
    // Said before anything happens, whatever the event: the flat contract has no word for review.
    if (decision === 'review' && deps.service.require(req.params.id).dialect === 'asyncapi') {
      throw badRequest(
        'decision must be accept, reject or resubmit on an asyncapi transaction (review exists in the socure-v5 and riskos dialects)',
      );
    }
    let result;
    try {
      result = deps.service.emit(req.params.id, eventType, {
        decision,
        omitDecision,
        set: setFields,
        unset: unset as string[] | undefined,
        // On demand means on demand: by default even an event the lifecycle is past is sent.
        force: force ?? true,
        chaos: chaosOverrides.value,
      });
    } catch (err) {
      if (err instanceof RangeError) throw badRequest(err.message);
      throw err;
    }
    if (!result.emitted) throw conflict(`not emitted: ${result.reason} (send "force": true to emit anyway)`);
    // The id a receiver sees as `webhook-id`; `eventId` is the receiver's own name for what it stored.
    const { eventId, ...emitted } = result;
    return reply.code(201).send({ ...emitted, webhookId: eventId });
  });

  app.get('/sandbox/chaos', async () => ({
    global: deps.chaos.get(),
    effective: mergeChaos(deps.chaos.get(), undefined),
  }));

  app.put('/sandbox/chaos', async (req) => {
    const parsed = chaosFromJson(req.body);
    if (!parsed.ok) throw badRequest(parsed.reason);
    deps.chaos.set(parsed.value);
    return { global: parsed.value, effective: mergeChaos(parsed.value, undefined) };
  });
}
