import { redactUrl } from './config.ts';
import { causeChain, describeDatabaseError, isConnectionLoss } from './db/errors.ts';

/**
 * One line for a failure caused by something outside ptpass (the database, Temporal), naming the variable
 * that points at it and the cause — never a `Failed query: ...` wrapper or a gRPC stack.
 */
export function explainUnavailable(
  err: unknown,
  where: { databaseUrl?: string; temporalAddress?: string } = {},
): string | undefined {
  const chain = causeChain(err);
  const named = (name: string) => chain.some((e) => e instanceof Error && e.name === name);
  if (named('PostgresError') || named('DrizzleQueryError') || isConnectionLoss(err)) {
    const at = where.databaseUrl ? ` at ${redactUrl(where.databaseUrl)}` : '';
    return `DATABASE_URL: cannot use the database${at}: ${describeDatabaseError(err)}`;
  }
  if (named('TransportError') || chain.some((e) => e instanceof Error && isGrpcUnavailable(e))) {
    const at = where.temporalAddress ? ` at ${where.temporalAddress}` : '';
    return `TEMPORAL_ADDRESS: cannot reach Temporal${at}: ${temporalCause(chain[chain.length - 1] as Error)}`;
  }
  return undefined;
}

function isGrpcUnavailable(err: Error): boolean {
  // @grpc/grpc-js status 14 (UNAVAILABLE), and the native bridge's "tcp connect error".
  return (err as { code?: unknown }).code === 14 || /tcp connect error|Connection refused/i.test(err.message);
}

export function temporalCause(err: Error): string {
  if (/ConnectionRefused|Connection refused/i.test(err.message)) return 'connection refused';
  if (/before the deadline|timed out/i.test(err.message)) return 'no answer before the connect timeout';
  return err.message.split('\n')[0]!;
}
