import type { SandboxStore } from './store.js';

/**
 * What the DocV service, the delivery engine and `simulate` need of a store. The sandbox server
 * keeps it in SQLite (`SandboxStore`), so its deliveries survive a restart; a `simulate` run,
 * which is never resumed, keeps it in memory (`MemoryStore`).
 */
export type SandboxState = Pick<
  SandboxStore,
  | 'atomically'
  | 'close'
  | 'insertTransaction'
  | 'getTransaction'
  | 'updateTransactionState'
  | 'insertStep'
  | 'dueSteps'
  | 'nextStepDue'
  | 'countPlannedSteps'
  | 'markStep'
  | 'cancelPlannedSteps'
  | 'insertEvent'
  | 'insertDelivery'
  | 'releaseHeld'
  | 'releaseExpiredHolds'
  | 'readyDeliveries'
  | 'nextDeliveryDue'
  | 'markInFlight'
  | 'resetInFlight'
  | 'recordAttempts'
  | 'countOpenDeliveries'
  | 'eventCounts'
  | 'eventTypeCounts'
>;
