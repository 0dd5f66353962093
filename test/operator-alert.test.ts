import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createNotifier } from '../src/activities/notifications/notifier.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { jobRuns, notifications, stepRuns } from '../src/db/schema.ts';
import { createLogger } from '../src/logger.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedUser, uniqueAsOf } from './helpers/seed.ts';
import { seedBooking } from './helpers/seed-bookings.ts';
import { connectTemporal, type RunningWorker, type TemporalTestContext } from './helpers/temporal.ts';
import { type Receiver, startReceiver } from './helpers/webhook-receiver.ts';

const SECRET = 'operator-alert-test-secret';
let database: TestDatabase;
let temporal: TemporalTestContext;
let receiver: Receiver;
let worker: RunningWorker;

beforeAll(async () => {
  database = await createTestDatabase('alert');
  temporal = await connectTemporal('alert');
  receiver = await startReceiver(SECRET);
  const notifier = createNotifier(
    {
      channel: 'webhook',
      webhook: { url: receiver.url, secret: SECRET },
      timeoutMs: 2000,
      concurrency: 2,
      maxAttempts: 3,
      retryBackoffMs: 10,
      locale: 'en',
    },
    'Asia/Seoul',
    createLogger('warn'),
  );
  worker = await temporal.startWorker({ db: database.db, notifier, operatorAlertTo: 'ops@studio.test' });
});
afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
  await temporal?.close();
  await database?.drop();
});

it('a job run that fails after retries is reported to the operator once, through the notification channel', async () => {
  const T = uniqueAsOf();
  const user = await seedUser(database.db);
  // A booking whose pass is gone cannot be deducted; with a skip limit of 0 the step fails (not retryable).
  await seedBooking(database.db, {
    userId: user,
    passId: null,
    startedAt: new Date(T.getTime() - 7_200_000),
  });

  const launched = await launchJob(
    { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
    { job: 'deduct-sessions', asOf: T, settings: { steps: { deduct: { skipLimit: 0 } } } },
  );
  const failure = await temporal.client.workflow
    .getHandle(launched.workflowId)
    .result()
    .then(
      () => undefined,
      (err: unknown) => err as { cause?: { message?: string } },
    );
  expect(failure?.cause?.message).toMatch(/^deduct-sessions failed/);

  const [run] = await database.db.select().from(jobRuns).where(eq(jobRuns.id, launched.runId));
  expect(run).toMatchObject({ status: 'FAILED' });
  expect(run!.error).toMatch(/over the limit of 0/);
  const [step] = await database.db.select().from(stepRuns).where(eq(stepRuns.jobRunId, launched.runId));
  expect(step).toMatchObject({ step: 'deduct', status: 'FAILED', skipCount: 1 });

  const alerts = await database.db.select().from(notifications).where(eq(notifications.event, 'job-failed'));
  expect(alerts).toHaveLength(1);
  expect(alerts[0]).toMatchObject({
    status: 'SENT',
    attempts: 1,
    userId: null,
    dedupeKey: `job-failed:${launched.runId}`,
  });
  expect(alerts[0]!.message).toContain(`job deduct-sessions`);
  expect(alerts[0]!.message).toContain(launched.runId);

  expect(receiver.requests).toHaveLength(1);
  const request = receiver.requests[0]!;
  expect(request.signatureValid).toBe(true);
  expect(request.idempotencyKey).toBe(alerts[0]!.id);
  expect(request.body).toMatchObject({
    event: 'job-failed',
    recipient: { address: 'ops@studio.test', userId: null },
  });

  // Re-running the bookkeeping for the same run (a retried activity) sends nothing more.
  const { alertOperator } = await import('../src/activities/notifications/operator-alert.ts');
  const again = await alertOperator(
    {
      db: database.db,
      notifier: createNotifier(
        {
          channel: 'webhook',
          webhook: { url: receiver.url, secret: SECRET },
          timeoutMs: 2000,
          concurrency: 1,
          maxAttempts: 1,
          retryBackoffMs: 0,
          locale: 'en',
        },
        'Asia/Seoul',
        createLogger('warn'),
      ),
    },
    'ops@studio.test',
    { jobRunId: launched.runId, job: 'deduct-sessions', asOf: T.toISOString(), error: 'again' },
  );
  expect(again).toBe('ALREADY_HANDLED');
  expect(receiver.requests).toHaveLength(1);
});
