import type { Logger } from 'pino';
import type { Decision, DocvEventType } from '../contract/index.js';
import { decideChaos, mergeChaos, type ChaosOverrides } from './chaos.js';
import { REQUIRED_UPLOADS, type DocumentType } from './document-data.js';
import { badRequest, conflict, notFound } from './errors.js';
import { newEventId, newReferenceId, newSessionToken, newTransactionId } from './ids.js';
import { PACE, planScenario, resolveScenario, scaleDelay, scenarioFromCustomerUserId, scenarioOutcome, type Pace, type ScenarioName } from './scenarios.js';
import { applyFieldOverrides, removeFields } from './set-fields.js';
import { advanceStatus, isTerminal, statusRank } from './status.js';
import type { SandboxState } from './state.js';
import type { TransactionRecord } from './store.js';
import { WakeTimer } from './wake-timer.js';

export interface CreateTransactionInput {
  customerUserId?: string;
  webhookUrl?: string;
  documentType?: DocumentType;
  country?: string;
  redirectUrl?: string;
  scenario?: ScenarioName;
  timeScale?: number;
  chaos?: ChaosOverrides;
}

export interface EmitOptions {
  decision?: Decision;
  /** Send VERIFICATION_COMPLETED without `decision` (the transaction still has one). */
  omitDecision?: boolean;
  /** Extra or replaced payload fields, dotted paths allowed; may break the contract on purpose. */
  set?: Record<string, unknown>;
  /** Payload fields to leave out, dotted paths allowed. */
  unset?: readonly string[];
  /** Emit even if the transaction is past this point: control endpoints do, the simulated user does not. */
  force?: boolean;
  chaos?: ChaosOverrides;
}

export type EmitResult =
  | { emitted: true; eventId: string; payload: Record<string, unknown>; deliveries: number[] }
  | { emitted: false; reason: string };

export interface DocvServiceOptions {
  store: SandboxState;
  /** Told when deliveries were queued. */
  wakeDelivery: () => void;
  random?: () => number;
  now?: () => number;
  timeScale?: number;
  defaultScenario?: ScenarioName;
  defaultWebhookUrl?: string;
  globalChaos?: () => ChaosOverrides;
  pace?: Pace;
  logger?: Logger;
  /**
   * While this says so, due steps wait until `wake()`: `simulate` keeps the deliveries it has
   * not sent yet to a few batches, instead of queueing every flow's events at the start.
   */
  holdSteps?: () => boolean;
}

/** How long an out-of-order event waits for a later one to overtake it, in scenario time. */
const HOLD_MS = 120_000;
const MIN_HOLD_MS = 50;
/**
 * Steps taken per wake-up: a backlog (after a long stop, or a load run's flows all due at once)
 * is worked off in slices of a few milliseconds, so deliveries keep going in between.
 */
const STEPS_PER_TICK = 64;

/**
 * The DocV service the sandbox stands in for: transactions, the simulated end user working
 * through a scenario, and the events that causes. Events go into the store as deliveries; the
 * delivery engine sends them.
 */
export class DocvService {
  private readonly store: SandboxState;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly timer: WakeTimer;

  constructor(private readonly opts: DocvServiceOptions) {
    this.store = opts.store;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.timer = new WakeTimer(
      () => this.runDueSteps(),
      (err) => opts.logger?.error({ err }, 'scenario step failed'),
      1_000,
      this.now,
    );
  }

  start(): void {
    this.timer.wake();
  }

  stop(): void {
    this.timer.stop();
  }

  /** Due steps may go ahead again (see `holdSteps`). */
  wake(): void {
    this.timer.wake();
  }

  create(input: CreateTransactionInput): TransactionRecord {
    const requestedScenario =
      input.scenario ?? scenarioFromCustomerUserId(input.customerUserId) ?? this.opts.defaultScenario ?? 'manual';
    const scenario = resolveScenario(requestedScenario, this.random);
    const createdAt = this.now();
    const tx: TransactionRecord = {
      docvTransactionId: newTransactionId(),
      referenceId: newReferenceId(),
      sessionToken: newSessionToken(),
      customerUserId: input.customerUserId,
      webhookUrl: input.webhookUrl ?? this.opts.defaultWebhookUrl,
      documentType: input.documentType ?? 'license',
      country: input.country ?? 'US',
      redirectUrl: input.redirectUrl,
      requestedScenario,
      scenario,
      outcome: scenarioOutcome(scenario),
      timeScale: input.timeScale ?? this.opts.timeScale ?? 1,
      chaos: input.chaos,
      status: 'CREATED',
      uploads: [],
      createdAt,
    };
    this.store.atomically(() => {
      this.store.insertTransaction(tx);
      for (const step of planScenario(scenario, this.opts.pace ?? PACE)) {
        this.store.insertStep(tx.docvTransactionId, step.eventType, step.decision, createdAt + scaleDelay(step.atMs, tx.timeScale));
      }
    });
    this.timer.wake();
    return tx;
  }

  get(docvTransactionId: string): TransactionRecord | undefined {
    return this.store.getTransaction(docvTransactionId);
  }

  require(docvTransactionId: string): TransactionRecord {
    const tx = this.store.getTransaction(docvTransactionId);
    if (!tx) throw notFound(`no DocV transaction ${JSON.stringify(docvTransactionId)}`);
    return tx;
  }

  /**
   * One event of a transaction happens now: the transaction's state moves, and the event is
   * queued for delivery as chaos decides (copies, hold, delay, decision left out).
   */
  emit(docvTransactionId: string, eventType: DocvEventType, opts: EmitOptions = {}): EmitResult {
    const result = this.store.atomically((): EmitResult => {
      const tx = this.require(docvTransactionId);
      if (!opts.force) {
        if (isTerminal(tx.status)) return { emitted: false, reason: `the session is over (${tx.status})` };
        if (statusRank(tx.status) >= statusRank(eventType)) return { emitted: false, reason: `already at ${tx.status}` };
      }
      const now = this.now();
      const decision = eventType === 'VERIFICATION_COMPLETED' ? (opts.decision ?? tx.decision ?? tx.outcome) : undefined;
      const chaos = decideChaos(mergeChaos(this.opts.globalChaos?.() ?? {}, { ...tx.chaos, ...opts.chaos }), eventType, this.random);

      const payload: Record<string, unknown> = {
        eventType,
        docvTransactionId: tx.docvTransactionId,
        ...(tx.customerUserId !== undefined ? { customerUserId: tx.customerUserId } : {}),
        eventTime: new Date(now).toISOString(),
        ...(decision !== undefined && !chaos.omitDecision && !opts.omitDecision ? { decision } : {}),
      };
      if (opts.set) applyFieldOverrides(payload, opts.set);
      if (opts.unset) removeFields(payload, opts.unset);
      const body = JSON.stringify(payload);
      const eventId = newEventId();
      this.store.insertEvent({ eventId, docvTransactionId: tx.docvTransactionId, eventType, body, createdAt: now });

      const status = advanceStatus(tx.status, eventType);
      // The first decision is the transaction's result; a forced contradicting event is the
      // receiver's problem to notice, not a change of what Get A DocV Transaction reports.
      const firstDecision = tx.decision === undefined && decision !== undefined;
      this.store.updateTransactionState({
        docvTransactionId: tx.docvTransactionId,
        status,
        uploads: tx.uploads,
        decision: firstDecision ? decision : tx.decision,
        completedAt: firstDecision ? now : tx.completedAt,
      });
      if (isTerminal(status)) this.store.cancelPlannedSteps(tx.docvTransactionId);

      const deliveries: number[] = [];
      if (tx.webhookUrl !== undefined) {
        const holdMs = Math.max(MIN_HOLD_MS, scaleDelay(HOLD_MS, tx.timeScale));
        for (let copy = 1; copy <= chaos.copies; copy++) {
          deliveries.push(
            this.store.insertDelivery({
              eventId,
              docvTransactionId: tx.docvTransactionId,
              eventType,
              url: tx.webhookUrl,
              body,
              ordered: true,
              copy,
              held: chaos.hold,
              notBefore: now + (chaos.hold ? holdMs : chaos.delayMs),
              createdAt: now,
            }),
          );
        }
        // Whatever was held back now goes after this event: that is the disorder.
        if (!chaos.hold) this.store.releaseHeld(tx.docvTransactionId, now);
      }
      return { emitted: true, eventId, payload, deliveries };
    });
    if (result.emitted) {
      this.opts.logger?.debug({ docvTransactionId, eventType, eventId: result.eventId }, 'event');
      this.opts.wakeDelivery();
    }
    return result;
  }

  /** A document image arrived. The app is opened by the first upload; the last required one completes the set. */
  recordUpload(docvTransactionId: string, uploadType: string): { uploaded: string[]; missing: string[] } {
    const tx = this.require(docvTransactionId);
    if (isTerminal(tx.status)) throw conflict(`the session is over (${tx.status}); no more uploads`);
    const uploads = tx.uploads.includes(uploadType) ? tx.uploads : [...tx.uploads, uploadType];
    this.store.updateTransactionState({ ...tx, uploads });
    this.emit(docvTransactionId, 'APP_OPENED');
    const missing = REQUIRED_UPLOADS[tx.documentType].filter((t) => !uploads.includes(t));
    if (missing.length === 0) this.emit(docvTransactionId, 'DOCUMENTS_UPLOADED');
    return { uploaded: uploads, missing };
  }

  /** Everything the document type needs, at once: the capture page's "upload documents" button. */
  uploadAll(docvTransactionId: string): void {
    const tx = this.require(docvTransactionId);
    for (const type of REQUIRED_UPLOADS[tx.documentType]) this.recordUpload(docvTransactionId, type);
  }

  /** Finalises the verification (POST /documents/verify, the capture page's finish). */
  complete(docvTransactionId: string, decision?: Decision): TransactionRecord {
    const tx = this.require(docvTransactionId);
    if (tx.status === 'VERIFICATION_COMPLETED') return tx;
    if (tx.status === 'SESSION_EXPIRED') throw conflict('the session expired before verification; create a new transaction');
    if (statusRank(tx.status) < statusRank('DOCUMENTS_UPLOADED')) {
      const missing = REQUIRED_UPLOADS[tx.documentType].filter((t) => !tx.uploads.includes(t));
      throw badRequest(`documents are not uploaded yet (missing: ${missing.join(', ')})`);
    }
    this.emit(docvTransactionId, 'VERIFICATION_COMPLETED', { decision: decision ?? tx.outcome });
    return this.require(docvTransactionId);
  }

  /** Planned scenario steps that are due happen now; returns when the next one is due. */
  runDueSteps(): number | undefined {
    if (this.opts.holdSteps?.()) return undefined;
    const now = this.now();
    const steps = this.store.dueSteps(now, STEPS_PER_TICK);
    // One commit for the whole slice: each step and the deliveries it queues still land together.
    this.store.atomically(() => {
      for (const step of steps) {
        // Marked before the event happens: a terminal event cancels the steps still planned,
        // and this one is not among them any more (one update of its row instead of two).
        this.store.markStep(step.id, 'done');
        const r = this.emit(step.docvTransactionId, step.eventType, { decision: step.decision });
        if (!r.emitted) this.store.markStep(step.id, 'skipped');
      }
    });
    return steps.length === STEPS_PER_TICK ? now : this.store.nextStepDue();
  }
}
