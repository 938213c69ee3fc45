import { lookup } from 'node:dns/promises';
import { Agent, buildConnector } from 'undici';
import { allowedAddresses, judgeTargetUrl, refusalMessage, type TargetPolicy } from './target-policy.js';

/**
 * The I/O half of the delivery-target policy: DNS, and the connector that only ever connects to
 * an address it has just checked. Checking a URL when it is given is not enough on its own: a
 * name can resolve to an allowed address then, and to the metadata service a second later (DNS
 * rebinding), so every connection is checked again and made to the checked address.
 */

/** Every address a host name resolves to. Injected in tests. */
export type HostResolver = (hostname: string) => Promise<string[]>;

export const systemResolver: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export const TARGET_REFUSED = 'ERR_SANDBOX_TARGET_REFUSED';

/** A connection the policy would not make: the delivery is refused for good, not retried. */
export class TargetRefusedError extends Error {
  readonly code = TARGET_REFUSED;
  constructor(reason: string) {
    super(`refused by --allow-target: ${reason}`);
    this.name = 'TargetRefusedError';
  }
}

export interface TargetGuard {
  policy: TargetPolicy;
  resolve: HostResolver;
}

/**
 * Checks a webhook URL when it is given (a create request, `--default-webhook-url`): undefined
 * when it may be used, else the problem to answer, naming the host and the flag that allows it.
 * A name that does not resolve yet is let through (the receiver may not be up): every
 * connection is checked again anyway.
 */
export async function webhookUrlProblem(url: string, field: string, guard: TargetGuard): Promise<string | undefined> {
  const verdict = judgeTargetUrl(url, guard.policy);
  if (verdict.kind === 'allowed') return undefined;
  if (verdict.kind === 'refused') return refusalMessage(field, verdict);
  let resolved: string[];
  try {
    resolved = await guard.resolve(verdict.endpoint.hostname);
  } catch {
    return undefined;
  }
  const judged = allowedAddresses(verdict.endpoint, resolved, guard.policy);
  return 'reason' in judged ? refusalMessage(field, { reason: judged.reason, endpoint: verdict.endpoint }) : undefined;
}

/**
 * The address to connect to for one connection of undici's: the literal itself when it is
 * allowed, a listed name as it is (the operator trusts it), or for any other name the first
 * allowed address it resolves to right now.
 */
async function addressToConnect(origin: string, hostname: string, guard: TargetGuard): Promise<string> {
  const verdict = judgeTargetUrl(origin, guard.policy);
  if (verdict.kind === 'allowed') return hostname;
  if (verdict.kind === 'refused') throw new TargetRefusedError(verdict.reason);
  // DNS errors go on as they are: "host not found" is retried like any network failure.
  const judged = allowedAddresses(verdict.endpoint, await guard.resolve(verdict.endpoint.hostname), guard.policy);
  if ('reason' in judged) throw new TargetRefusedError(judged.reason);
  return judged.addresses[0]!;
}

/**
 * An undici connector that connects only to addresses the policy allows, pinned: the address
 * checked is the address connected to. TLS still verifies the certificate against the URL's host
 * name (undici takes the SNI name from `host`, which is left as it is).
 */
export function guardedConnector(guard: TargetGuard, connectTimeoutMs: number): buildConnector.connector {
  const connect = buildConnector({ timeout: connectTimeoutMs });
  return (options, callback) => {
    addressToConnect(`${options.protocol}//${options.host ?? options.hostname}/`, options.hostname, guard).then(
      (hostname) => connect({ ...options, hostname }, callback),
      (err: Error) => callback(err, null),
    );
  };
}

/** The engine's agent when deliveries are guarded. */
export function guardedAgent(
  guard: TargetGuard,
  opts: { connections: number; keepAliveTimeout: number; connectTimeout: number },
): Agent {
  return new Agent({
    connections: opts.connections,
    keepAliveTimeout: opts.keepAliveTimeout,
    connect: guardedConnector(guard, opts.connectTimeout),
  });
}
