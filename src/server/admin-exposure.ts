import { ConfigError } from '../compose/index.js';
import { isLoopbackHost } from './loopback.js';

/**
 * The shortest admin token accepted where others can reach the admin API. The token reads every
 * event and can redirect every delivery (SECURITY.md), and nothing limits how fast it is guessed.
 */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

const MAKE_ONE = 'e.g. openssl rand -hex 32';

/**
 * Refuses admin settings that would leave the admin API (and dashboard, and metrics) open or
 * guessable to others: behind a proxy every caller arrives from the proxy, so without a token the
 * admin API would answer whoever reaches the proxy; and a short token is no protection where
 * others can try it. On loopback with no proxy a short token is allowed: only this machine's users
 * can try it. `where` says what listens, for the message ("the admin API on 0.0.0.0").
 */
export function checkAdminExposure(settings: {
  host: string;
  adminToken: string | undefined;
  behindProxy: boolean;
  where: string;
}): void {
  const { host, adminToken, behindProxy, where } = settings;
  if (behindProxy && !adminToken) {
    throw new ConfigError(
      `refusing --trust-proxy (DOCV_TRUST_PROXY) without --admin-token (DOCV_ADMIN_TOKEN): behind a proxy every request comes from the proxy, ` +
        `so ${where} would be open to anyone who reaches it; set --admin-token to a long random value (${MAKE_ONE})`,
    );
  }
  const reachable = behindProxy ? 'behind a proxy (--trust-proxy)' : isLoopbackHost(host) ? null : `on ${host}`;
  if (adminToken !== undefined && reachable !== null && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(
      `--admin-token (DOCV_ADMIN_TOKEN) is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters, too easy to guess for ${where} ${reachable}; ` +
        `use a long random value (${MAKE_ONE})`,
    );
  }
}
