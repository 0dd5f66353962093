import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { recordDeliveries } from '../../db/queries/notifications.ts';
import { notifications } from '../../db/schema.ts';
import { deliverWithRetries } from './deliver.ts';
import type { Notifier } from './notifier.ts';
import { renderJobFailedAlert } from './templates.ts';

export const JOB_FAILED_EVENT = 'job-failed';

export interface FailedRun {
  jobRunId: string;
  job: string;
  asOf: string;
  error: string;
}

/**
 * Tells the operator (OPERATOR_ALERT_TO) that a job run failed, through the configured notification
 * channel. The outbox row's dedupe key is the run, so a retried bookkeeping activity never alerts twice;
 * every attempt carries the row's ID as its idempotency key.
 */
export async function alertOperator(
  deps: { db: Db; notifier: Notifier },
  to: string,
  run: FailedRun,
): Promise<'SENT' | 'FAILED' | 'ALREADY_HANDLED'> {
  const dedupeKey = `${JOB_FAILED_EVENT}:${run.jobRunId}`;
  await deps.db
    .insert(notifications)
    .values({
      event: JOB_FAILED_EVENT,
      userId: null,
      dedupeKey,
      channel: deps.notifier.channel.name,
      subject: { jobRunId: run.jobRunId, job: run.job },
    })
    .onConflictDoNothing({ target: notifications.dedupeKey });
  const [row] = await deps.db.select().from(notifications).where(eq(notifications.dedupeKey, dedupeKey));
  if (row?.status !== 'PENDING') return 'ALREADY_HANDLED';

  const text = renderJobFailedAlert(
    { ...run, asOf: new Date(run.asOf) },
    deps.notifier.locale,
    deps.notifier.timeZone,
  );
  const outcome = await deliverWithRetries(
    deps.notifier.channel,
    {
      id: row.id,
      event: JOB_FAILED_EVENT,
      locale: deps.notifier.locale,
      recipient: { userId: null, name: null, phone: null, address: to },
      text,
      subject: { jobRunId: run.jobRunId, job: run.job },
    },
    deps.notifier.retry,
    new AbortController().signal,
  );
  await recordDeliveries(deps.db, [
    {
      id: row.id,
      status: outcome.status,
      attempts: outcome.attempts,
      error: outcome.error,
      message: text,
      channel: deps.notifier.channel.name,
    },
  ]);
  return outcome.status;
}
