import pg from 'pg';
import { redactUrl } from '../../auth/redact-url.js';
import { StoreUnavailableError } from '../types.js';

/** Settings read from the `postgres://` URL's query string; everything else goes to `pg` untouched. */
export interface PostgresSettings {
  /** The URL without our own parameters. */
  connectionString: string;
  /** Tables live here (created if missing); default: the server's search_path, usually `public`. */
  schema: string | null;
  /** Connections per process. */
  poolSize: number;
  /** How long to wait for a connection (new or from a busy pool) before answering 503. */
  connectTimeoutMs: number;
  /** Server-side limit on one statement; the client gives up a little later if no answer comes. */
  statementTimeoutMs: number;
}

export const DEFAULT_POSTGRES_SETTINGS = { poolSize: 10, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000 } as const;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function positiveInt(url: URL, name: string, fallback: number): number {
  const text = url.searchParams.get(name);
  url.searchParams.delete(name);
  if (text === null) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || !Number.isSafeInteger(n))
    throw new TypeError(`database URL parameter ${name}=${text} is not a positive integer`);
  return n;
}

/**
 * `postgres://user@host:5432/db?schema=docv&pool_size=10&connect_timeout=5&statement_timeout=10000`.
 * connect_timeout is in seconds, as in libpq; statement_timeout in milliseconds, as in PostgreSQL.
 */
export function parsePostgresUrl(text: string): PostgresSettings {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError('database URL is not a valid postgres:// URL');
  }
  const schema = url.searchParams.get('schema');
  url.searchParams.delete('schema');
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new TypeError(
      `database URL parameter schema=${schema} must be a plain identifier (letters, digits, _; at most 63)`,
    );
  }
  const poolSize = positiveInt(url, 'pool_size', DEFAULT_POSTGRES_SETTINGS.poolSize);
  const connectTimeoutMs =
    positiveInt(url, 'connect_timeout', DEFAULT_POSTGRES_SETTINGS.connectTimeoutMs / 1000) * 1000;
  const statementTimeoutMs = positiveInt(url, 'statement_timeout', DEFAULT_POSTGRES_SETTINGS.statementTimeoutMs);
  return { connectionString: url.toString(), schema, poolSize, connectTimeoutMs, statementTimeoutMs };
}

/** The URL as it may be printed: no user:password, no `?password=`, `sslpassword=` and the like. */
export function redactPostgresUrl(text: string): string {
  return redactUrl(text);
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const INT8_OID = 20;
/** bigint columns (sequences, epoch milliseconds) come back as numbers: all stay below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export function createPool(settings: PostgresSettings, options: { readonly?: boolean } = {}): pg.Pool {
  const startup = [
    // Each connection resolves table names in our schema: tests and tenants can share one database.
    ...(settings.schema ? [`-c search_path=${settings.schema}`] : []),
    ...(options.readonly ? ['-c default_transaction_read_only=on'] : []),
    // Every statement of the store reads through an index. The hot ones are named (prepared), and
    // PostgreSQL keeps a prepared statement's generic plan for the life of the connection: one made
    // while a table is still small (a fresh schema, or a server without autovacuum whose statistics
    // never change) is a sequential scan, and stays one as the table grows to millions of rows.
    // With sequential scans priced out, those plans are index scans from the start; a query with
    // no index to use still gets its sequential scan. What each setting cost without it:
    // docs/decisions/0009-postgresql-planner-settings.md.
    '-c enable_seqscan=off',
    // Pricing sequential scans out gives any plan that still needs one a cost far above the JIT
    // thresholds, and compiling it took hundreds of milliseconds per statement (seen: every commit
    // of a batch while the destinations table was read without its index). The store's statements
    // are short index lookups that JIT never speeds up.
    '-c jit=off',
    // A prepared statement is planned afresh at each run while its custom plans look cheaper than
    // the generic one, which for statements of many parts costs more than running them: measured
    // per run (BEGIN, statement, ROLLBACK; issue 18) the claim 2.6 ms planned each time against
    // 0.8 ms on its generic plan, the ingest's insert of events 0.9 against 0.3 ms. The named
    // statements are written for their generic plans (index lookups whatever the values); the
    // others are planned once per run anyway.
    '-c plan_cache_mode=force_generic_plan',
  ];
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // A silently vanished server (network partition, failover) is noticed within about 10 s.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    statement_timeout: settings.statementTimeoutMs,
    // The server enforces statement_timeout; this catches a server that cannot answer at all.
    query_timeout: settings.statementTimeoutMs + 2_000,
    // A client that hangs inside a transaction must not hold row locks for long.
    idle_in_transaction_session_timeout: Math.max(60_000, settings.statementTimeoutMs * 2),
    application_name: 'docv-webhooks',
    ...(startup.length ? { options: startup.join(' ') } : {}),
    types,
  });
  // An idle connection that the server drops (restart, admin shutdown) is reported here; the pool
  // has already discarded it and opens a new one on demand. Without a listener this would crash.
  pool.on('error', () => undefined);
  return pool;
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovery)
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available
  '53300', // too_many_connections
  '53100', // disk_full
  '53200', // out_of_memory
  '25006', // read_only_sql_transaction: a standby after failover
  '40001', // serialization_failure (after our retries)
  '40P01', // deadlock_detected (after our retries)
  '25P03', // idle_in_transaction_session_timeout
]);

const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|not queryable|Client was closed|Cannot use a pool after calling end|terminating connection/i;

/** Is this a failure of the database as a service (retry later), rather than of this request? */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof StoreUnavailableError) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  if (err instanceof AggregateError) return err.errors.some(isUnavailable);
  return UNAVAILABLE_MESSAGES.test(err.message);
}

/** The connection itself was gone (not slow, not refused): another one may well work. */
function isDeadConnection(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === '57P01' || code === '57P02') return true;
  return err instanceof Error && /Connection terminated unexpectedly|not queryable/i.test(err.message);
}

/** Errors where running the same transaction again is the documented remedy. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** Runs a statement again (three times at most, after a short random pause) while PostgreSQL says that is the remedy. */
export async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3 || !isRetryable(err)) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
  }
}

/** An error of pg or of the network in words, with any URL in it redacted (it may quote the connection string). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return redactUrl(String(err));
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  const code = (err as { code?: unknown }).code;
  return redactUrl(
    err.message
      ? typeof code === 'string' && !err.message.includes(code)
        ? `${err.message} (${code})`
        : err.message
      : String(code ?? err.name),
  );
}

/** Connection-class failures become StoreUnavailableError (→ 503, /readyz fails); the rest pass through. */
export function mapError(err: unknown, doing: string): Error {
  if (err instanceof StoreUnavailableError) return err;
  if (isUnavailable(err))
    return new StoreUnavailableError(`PostgreSQL unavailable while ${doing}: ${describeError(err)}`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Runs `fn` in one transaction on one pooled connection. Serialization failures and deadlocks are
 * retried (bounded); a connection that failed is destroyed rather than returned to the pool.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: { retries?: number } = {},
): Promise<T> {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const client = await pool.connect();
    // Between two queries the server may drop us; pg reports that as an 'error' event, which
    // would crash the process without a listener. The next query then fails and we handle it there.
    const onError = (): void => undefined;
    client.on('error', onError);
    let broken: unknown = null;
    let begun = false;
    try {
      await client.query('BEGIN');
      begun = true;
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      broken = err;
      if (!isUnavailable(err)) {
        try {
          await client.query('ROLLBACK');
          broken = null;
        } catch {
          // keep it broken: destroyed below
        }
      }
      // A pooled connection the server dropped while it sat idle fails at BEGIN, before any of
      // our statements ran: take another one (bounded by the retries).
      if (attempt < retries && (isRetryable(err) || (!begun && isDeadConnection(err)))) {
        // Deadlock victims and serialization failures: run it again after a short random pause.
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
        continue;
      }
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken instanceof Error ? broken : broken ? new Error(String(broken)) : undefined);
    }
  }
}
