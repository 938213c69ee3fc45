import type { ClaimedDelivery, DeliveryQueue } from '../../src/store/index.js';

/**
 * Delivers, as a worker would, every delivery of `destination` due now: claims them (at most
 * `limit`) and records each as delivered (200). Tests that need deliveries made once (a replay has
 * something to re-queue, a list shows them delivered) without running a dispatcher. Returns what
 * was claimed.
 */
export async function deliverDue(
  store: DeliveryQueue,
  destination: string,
  options: { workerId?: string; limit?: number } = {},
): Promise<ClaimedDelivery[]> {
  const workerId = options.workerId ?? 'w1';
  const claimed = await store.claimDeliveries({
    workerId,
    limit: options.limit ?? 50,
    leaseMs: 60_000,
    destinations: [destination],
    ordered: false,
  });
  for (const d of claimed)
    await store.completeDelivery({
      deliveryId: d.deliveryId,
      workerId,
      outcome: 'delivered',
      status: 200,
      error: null,
      startedAt: new Date(),
      durationMs: 1,
    });
  return claimed;
}
