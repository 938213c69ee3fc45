import type { Logger } from 'pino';
import type { CanonicalDecision, Dialect, DocvEventType } from '../contract/index.js';
import { decideChaos, mergeChaos, type ChaosDecision, type ChaosOverrides } from './chaos.js';
import { buildNotification, CREATED, docvSteps, type DocvSubject, type Happening } from './dialects/index.js';
import { REQUIRED_UPLOADS, type DocumentType } from './document-data.js';
import { badRequest, conflict, notFound } from './errors.js';
import { newEventId, newNotificationId, newReferenceId, newSessionToken, newTransactionId } from './ids.js';
import {
  PACE,
  planScenario,
  resolveScenario,
  scaleDelay,
  scenarioDialectConflict,
  scenarioFromCustomerUserId,
  scenarioOutcome,
  type Pace,
  type ScenarioName,
} from './scenarios.js';
import { applyFieldOverrides, removeFields } from './set-fields.js';
import { advanceStatus, isTerminal, statusRank } from './status.js';
import type { SandboxState } from './state.js';
import type { TransactionRecord } from './records.js';
import { WakeTimer } from './wake-timer.js';

export interface CreateTransactionInput {
  customerUserId?: string | number;
  userId?: string;
  webhookUrl?: string;
  /** How its notifications are shaped; the service's default when absent. */
  dialect?: Dialect;
  documentType?: DocumentType;
  country?: string;
  redirectUrl?: string;
  scenario?: ScenarioName;
  timeScale?: number;
  chaos?: ChaosOverrides;
}

export interface EmitOptions {
  /** `review` only on a transaction whose dialect can say it (not asyncapi). */
  decision?: CanonicalDecision;
  /** Send VERIFICATION_COMPLETED without `decision` (the transaction still has one). */
  omitDecision?: boolean;
  /**
   * Extra or replaced payload fields, dotted paths allowed; may break the contract on purpose.
   * Applied to the main notification (the one named like the event) when a dialect sends several.
   */
  set?: Record<string, unknown>;
  /** Payload fields to leave out of the main notification, dotted paths allowed. */
  unset?: readonly string[];
  /** Emit even if the transaction is past this point: control endpoints do, the simulated user does not. */
  force?: boolean;
  chaos?: ChaosOverrides;
}

/** One notification queued: its `webhook-id`, its type as the dialect names it, its body. */
export interface QueuedNotification {
  eventId: string;
  eventType: string;
  payload: Record<string, unknown>;
}

export type EmitResult =
  | {
      emitted: true;
      /** The main notification's (see `set`). */
      eventId: string;
      payload: Record<string, unknown>;
      /** Every notification the event was announced with, in the order they were queued. */
      notifications: QueuedNotification[];
      deliveries: number[];
    }
  | { emitted: false; reason: string };

export interface DocvServiceOptions {
  store: SandboxState;
  /** Told when deliveries were queued. */
  wakeDelivery: () => void;
  random?: () => number;
  now?: () => number;
  timeScale?: number;
  defaultScenario?: ScenarioName;
  /** The dialect of transactions created without one: asyncapi unless set. */
  defaultDialect?: Dialect;
  defaultWebhookUrl?: string;
  /** The capture link of a session token, for dialects that send it (RiskOS); left out when absent. */
  sessionUrl?: (sessionToken: string) => string;
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
    const magic =
      typeof input.customerUserId === 'string' ? scenarioFromCustomerUserId(input.customerUserId) : undefined;
    const requestedScenario = input.scenario ?? magic ?? this.opts.defaultScenario ?? 'manual';
    const dialect = input.dialect ?? this.opts.defaultDialect ?? 'asyncapi';
    const conflict = scenarioDialectConflict(requestedScenario, dialect);
    if (conflict) throw badRequest(conflict);
    const scenario = resolveScenario(requestedScenario, this.random);
    const createdAt = this.now();
    const tx: TransactionRecord = {
      docvTransactionId: newTransactionId(),
      referenceId: newReferenceId(),
      sessionToken: newSessionToken(),
      customerUserId: input.customerUserId,
      ...(input.userId !== undefined ? { userId: input.userId } : {}),
      webhookUrl: input.webhookUrl ?? this.opts.defaultWebhookUrl,
      dialect,
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
    let announced = false;
    this.store.atomically(() => {
      this.store.insertTransaction(tx);
      for (const step of planScenario(scenario, this.opts.pace ?? PACE)) {
        this.store.insertStep(
          tx.docvTransactionId,
          step.eventType,
          step.decision,
          createdAt + scaleDelay(step.atMs, tx.timeScale),
        );
      }
      // v5 announces the session before the user does anything (WAITING_FOR_USER_TO_REDIRECT).
      announced = this.announce(tx, CREATED, { now: createdAt }).notifications.length > 0;
    });
    this.timer.wake();
    if (announced) this.opts.wakeDelivery();
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
        if (statusRank(tx.status) >= statusRank(eventType))
          return { emitted: false, reason: `already at ${tx.status}` };
      }
      const now = this.now();
      const decision =
        eventType === 'VERIFICATION_COMPLETED' ? (opts.decision ?? tx.decision ?? tx.outcome) : undefined;
      if (decision === 'review' && tx.dialect === 'asyncapi') {
        throw badRequest(
          'decision must be accept, reject or resubmit on an asyncapi transaction (review exists in the socure-v5 and riskos dialects)',
        );
      }
      const { notifications, deliveries, main } = this.announce(tx, eventType, { ...opts, now, decision });
      // Every dialect announces an event of the flat lifecycle with at least one notification.
      if (!main) throw new Error(`the ${tx.dialect} dialect announced ${eventType} with nothing`);

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
      return { emitted: true, eventId: main.eventId, payload: main.payload, notifications, deliveries };
    });
    if (result.emitted) {
      this.opts.logger?.debug(
        { docvTransactionId, eventType, eventIds: result.notifications.map((n) => n.eventId) },
        'event',
      );
      this.opts.wakeDelivery();
    }
    return result;
  }

  /**
   * Queues what `happening` is announced as in the transaction's dialect: one notification in
   * the flat contract, several in v5 and RiskOS (see dialects/stream.ts). Each notification is
   * an event of its own (its own `webhook-id` and envelope id, both kept across retries) with
   * its own chaos roll. Every body is built before anything is written, so a bad `set` changes
   * nothing (the memory store has no rollback).
   */
  private announce(
    tx: TransactionRecord,
    happening: Happening,
    opts: Pick<EmitOptions, 'omitDecision' | 'set' | 'unset' | 'chaos'> & { now: number; decision?: CanonicalDecision },
  ): { notifications: QueuedNotification[]; deliveries: number[]; main: QueuedNotification | undefined } {
    const { now } = opts;
    const steps = docvSteps(tx.dialect, happening, tx.documentType);
    const settings = mergeChaos(this.opts.globalChaos?.() ?? {}, { ...tx.chaos, ...opts.chaos });
    const subject = this.subjectOf(tx);
    // Only the very last notification of a session is safe from holds: nothing comes after it.
    const sessionEnds = happening !== CREATED && isTerminal(happening);
    // The main notification carries `set`/`unset`: the one named like the event, else the last.
    const mainIndex = steps.includes(happening) ? steps.indexOf(happening) : steps.length - 1;
    const built = steps.map((step, i) => {
      const chaos: ChaosDecision = decideChaos(settings, step, this.random, sessionEnds && i === steps.length - 1);
      const { payload, eventType } = buildNotification(tx.dialect, step, subject, {
        at: now,
        decision: step === 'VERIFICATION_COMPLETED' ? opts.decision : undefined,
        includeDecision: !chaos.omitDecision && !opts.omitDecision,
        notificationId: newNotificationId(),
      });
      if (i === mainIndex && opts.set) applyFieldOverrides(payload, opts.set);
      if (i === mainIndex && opts.unset) removeFields(payload, opts.unset);
      return { eventId: newEventId(), eventType, payload, body: JSON.stringify(payload), chaos };
    });

    const deliveries: number[] = [];
    for (const n of built) {
      this.store.insertEvent({
        eventId: n.eventId,
        docvTransactionId: tx.docvTransactionId,
        eventType: n.eventType,
        body: n.body,
        createdAt: now,
      });
      if (tx.webhookUrl === undefined) continue;
      const holdMs = Math.max(MIN_HOLD_MS, scaleDelay(HOLD_MS, tx.timeScale));
      for (let copy = 1; copy <= n.chaos.copies; copy++) {
        deliveries.push(
          this.store.insertDelivery({
            eventId: n.eventId,
            docvTransactionId: tx.docvTransactionId,
            eventType: n.eventType,
            url: tx.webhookUrl,
            body: n.body,
            ordered: true,
            copy,
            held: n.chaos.hold,
            notBefore: now + (n.chaos.hold ? holdMs : n.chaos.delayMs),
            createdAt: now,
          }),
        );
      }
      // Whatever was held back now goes after this notification: that is the disorder.
      if (!n.chaos.hold) this.store.releaseHeld(tx.docvTransactionId, now);
    }
    const notifications = built.map(({ eventId, eventType, payload }) => ({ eventId, eventType, payload }));
    return { notifications, deliveries, main: notifications[mainIndex] };
  }

  /** Who and what a transaction is about, as every payload builder and the ID+ answer see it. */
  subjectOf(tx: TransactionRecord): DocvSubject {
    return {
      docvTransactionId: tx.docvTransactionId,
      referenceId: tx.referenceId,
      ...(tx.customerUserId !== undefined ? { customerUserId: tx.customerUserId } : {}),
      ...(tx.userId !== undefined ? { userId: tx.userId } : {}),
      documentType: tx.documentType,
      country: tx.country,
      ...(this.opts.sessionUrl ? { sessionUrl: this.opts.sessionUrl(tx.sessionToken) } : {}),
    };
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
  complete(docvTransactionId: string, decision?: CanonicalDecision): TransactionRecord {
    const tx = this.require(docvTransactionId);
    if (tx.status === 'VERIFICATION_COMPLETED') return tx;
    if (tx.status === 'SESSION_EXPIRED')
      throw conflict('the session expired before verification; create a new transaction');
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
