/*
 * Sources (issue 20): a receiver may listen for several Socure senders at once (a sandbox and a
 * production account, one per brand, DocV and RiskOS), each a named inbound endpoint with its own
 * path, credentials and dialect. Its name is stored with every event, transaction, delivery and
 * quarantined body, and it scopes identity: the same docvTransactionId under two sources is two
 * transactions, the same webhook-id two deliveries.
 */

/**
 * The source of a receiver configured the single-source way (flags, the library), and of every
 * row stored before sources existed: keeping it means an upgrade continues those transactions.
 */
export const DEFAULT_SOURCE = 'default';

/** Lower case letters, digits, `-` and `_`, starting with a letter or digit; at most 64. */
const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Why `name` cannot name a source, or null when it can. */
export function sourceNameProblem(name: string): string | null {
  if (SOURCE_NAME.test(name)) return null;
  return `"${name.slice(0, 80)}" is not a source name: use 1 to 64 lower-case letters, digits, "-" or "_", starting with a letter or digit`;
}
