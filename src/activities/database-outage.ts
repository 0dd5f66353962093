import { ApplicationFailure, Context } from '@temporalio/activity';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { describeDatabaseError, isConnectionLoss } from '../db/errors.ts';
import type { Logger } from '../logger.ts';

/** How long one attempt waits (heartbeating) for the database before giving the attempt up anyway. */
const MAX_WAIT_MS = 15 * 60_000;
const PROBE_EVERY_MS = 1_000;

/**
 * Runs one step attempt. When the database connection is lost under it (restart, failover, network
 * blip), the attempt does not burn retries against a server that is down: it waits, heartbeating, until
 * `SELECT 1` answers again (or the worker stops, or the activity is cancelled), then fails with a
 * retryable `DatabaseUnavailable` failure whose next retry starts after one second — the step resumes from
 * its committed checkpoint seconds after the database is back, not after a heartbeat timeout or a long
 * backoff.
 */
export async function throughDatabaseOutages<T>(
  deps: { db: Db; logger: Logger; stopSignal?: AbortSignal },
  attempt: () => Promise<T>,
): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (!isConnectionLoss(err)) throw err;
    const activity = Context.current();
    const cause = describeDatabaseError(err);
    const log = deps.logger.child({ activity: activity.info.activityType, attempt: activity.info.attempt });
    log.warn('database connection lost; waiting for the database before retrying', { cause });
    const back = await waitForDatabase(deps, activity);
    activity.cancellationSignal.throwIfAborted();
    log.warn(
      back ? 'database answers again; retrying from the checkpoint' : 'gave up waiting for the database',
      {
        cause,
      },
    );
    throw ApplicationFailure.create({
      message: `database connection lost (${cause}); the step resumes from its checkpoint on the next attempt`,
      type: 'DatabaseUnavailable',
      cause: err instanceof Error ? err : undefined,
      nextRetryDelay: '1 second',
    });
  }
}

async function waitForDatabase(
  deps: { db: Db; stopSignal?: AbortSignal },
  activity: Context,
): Promise<boolean> {
  const deadline = Date.now() + MAX_WAIT_MS;
  while (Date.now() < deadline) {
    if (deps.stopSignal?.aborted || activity.cancellationSignal.aborted) return false;
    activity.heartbeat({ waitingForDatabase: true });
    try {
      await deps.db.execute(sql`select 1`);
      return true;
    } catch (err) {
      if (!isConnectionLoss(err)) return true;
    }
    try {
      await activity.sleep(PROBE_EVERY_MS);
    } catch {
      return false;
    }
  }
  return false;
}
