import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { bookings, passes } from '../src/db/schema.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { seedBooking } from './helpers/seed-bookings.ts';
import { connectTemporal, type RunningWorker, type TemporalTestContext } from './helpers/temporal.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
let worker: RunningWorker;

beforeAll(async () => {
  database = await createTestDatabase('skip_limit');
  temporal = await connectTemporal('skip-limit');
  worker = await temporal.startWorker({ db: database.db });
});
afterAll(async () => {
  await worker?.stop();
  await temporal?.close();
  await database?.drop();
});

it('bad items a failed run already skipped do not count again, so later runs get past them', async () => {
  const T = uniqueAsOf();
  const hoursBefore = (h: number) => new Date(T.getTime() - h * 3_600_000);
  const user = await seedUser(database.db);
  const pkg = await seedPackage(database.db);
  // Two bookings nobody can deduct (their pass is gone), then a good one later in key order.
  await seedBooking(database.db, { userId: user, passId: null, startedAt: hoursBefore(30) });
  await seedBooking(database.db, { userId: user, passId: null, startedAt: hoursBefore(29) });
  const deps = { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue };
  const settings = { steps: { deduct: { skipLimit: 1, chunkSize: 1 } } };

  const first = await launchJob(deps, { job: 'deduct-sessions', asOf: hoursBefore(20), settings });
  await temporal.client.workflow
    .getHandle(first.workflowId)
    .result()
    .catch(() => undefined);
  expect((await getJobRun(database.db, first.runId))?.run.status).toBe('FAILED');

  const pass = await seedPass(database.db, {
    userId: user,
    packageId: pkg,
    status: 'PROGRESSED',
    remainingCount: 5,
    startedAt: hoursBefore(100),
    endedAt: new Date(T.getTime() + 86_400_000),
  });
  const good = await seedBooking(database.db, { userId: user, passId: pass, startedAt: hoursBefore(3) });

  const second = await launchJob(deps, { job: 'deduct-sessions', asOf: T, settings, wait: true });
  if (second.outcome !== 'completed') throw new Error(second.outcome);
  const deduct = second.result.steps.find((s) => s.step === 'deduct');
  expect(deduct).toMatchObject({ skipped: 2, written: 1 });
  const record = await getJobRun(database.db, second.runId);
  expect(record?.skips.map((s) => s.reason)).toEqual(['pass-missing', 'pass-missing']);
  const [booking] = await database.db.select().from(bookings).where(eq(bookings.id, good));
  expect(booking).toMatchObject({ status: 'COMPLETED', usedPass: true });
  const [after] = await database.db.select().from(passes).where(eq(passes.id, pass));
  expect(after?.remainingCount).toBe(4);
});
