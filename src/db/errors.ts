/**
 * What went wrong talking to PostgreSQL, told in one line. Drizzle wraps driver errors in
 * `DrizzleQueryError("Failed query: ...")`; the reason an operator needs (connection refused, database "x"
 * does not exist, password authentication failed) is further down the `cause` chain.
 */

/** Driver and socket codes that mean "the connection is gone", not "the query was wrong". */
const CONNECTION_LOSS_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now (starting up / shutting down).
  '57P01',
  '57P02',
  '57P03',
]);

/** The error and its causes, outermost first. */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = err;
  while (current !== undefined && current !== null && !chain.includes(current) && chain.length < 10) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The innermost error of the chain: the driver's or the server's own words. */
export function rootCause(err: unknown): unknown {
  const chain = causeChain(err);
  return chain[chain.length - 1];
}

/** True when the error (or one of its causes) says the database connection was lost or refused. */
export function isConnectionLoss(err: unknown): boolean {
  return causeChain(err).some((e) => {
    const code = codeOf(e);
    if (code && CONNECTION_LOSS_CODES.has(code)) return true;
    // AggregateError from a host that resolves to several addresses (::1 and 127.0.0.1).
    return e instanceof AggregateError && e.errors.some(isConnectionLoss);
  });
}

/** One line for an operator: the innermost cause, with its code when it adds something. */
export function describeDatabaseError(err: unknown): string {
  const root = rootCause(err);
  if (root instanceof AggregateError && root.errors.length) return describeDatabaseError(root.errors[0]);
  const message = (root instanceof Error ? root.message : String(root)).split('\n')[0]!.trim();
  const code = codeOf(root);
  if (code === 'ECONNREFUSED') return `connection refused (${message.replace(/^connect /, '')})`;
  if (code === 'CONNECT_TIMEOUT') return 'connection timed out';
  if (code === 'CONNECTION_CLOSED' || code === 'CONNECTION_ENDED' || code === 'CONNECTION_DESTROYED')
    return 'the connection was closed by the server';
  if (code === 'ENOTFOUND') return `host not found (${message.replace(/^getaddrinfo /, '')})`;
  return message || code || 'unknown error';
}
