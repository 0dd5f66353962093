import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { bookings, passes, stepRuns } from '../src/db/schema.ts';
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

it('when one partition fails, the others are cancelled: no step stays RUNNING and nothing is written after', async () => {
  const T = uniqueAsOf();
  const hoursBefore = (h: number) => new Date(T.getTime() - h * 3_600_000);
  const user = await seedUser(database.db);
  const pkg = await seedPackage(database.db);
  // Low keys: three bookings nobody can deduct. High keys: 400 good ones, slow to work through.
  for (let i = 0; i < 3; i++)
    await seedBooking(database.db, { userId: user, passId: null, startedAt: hoursBefore(10 + i) });
  const pass = await seedPass(database.db, {
    userId: user,
    packageId: pkg,
    status: 'PROGRESSED',
    remainingCount: 1000,
    startedAt: hoursBefore(100),
    endedAt: new Date(T.getTime() + 86_400_000),
  });
  await database.db.execute(sql`
    INSERT INTO bookings (pass_id, user_id, started_at, ended_at)
    SELECT ${pass}, ${user}, ${hoursBefore(5).toISOString()}::timestamptz, ${hoursBefore(4).toISOString()}::timestamptz
    FROM generate_series(1, 400)`);

  const launched = await launchJob(
    { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
    {
      job: 'deduct-sessions',
      asOf: T,
      settings: {
        heartbeatTimeoutSeconds: 2,
        steps: { deduct: { partitions: 2, chunkSize: 5, pauseMs: 100, skipLimit: 1 } },
      },
    },
  );
  await temporal.client.workflow
    .getHandle(launched.workflowId)
    .result()
    .catch(() => undefined);

  const steps = await database.db.select().from(stepRuns).where(eq(stepRuns.jobRunId, launched.runId));
  expect(steps.map((s) => s.status).sort()).toEqual(['FAILED', 'STOPPED']);
  expect(steps.find((s) => s.skipCount > 0)?.error).toMatch(/over the limit of 1/);
  expect(steps.find((s) => s.skipCount === 0)?.error).toMatch(/^stopped after key/);

  const used = async () =>
    (
      await database.db.execute<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM bookings WHERE pass_id = ${pass} AND used_pass`,
      )
    )[0]!.n;
  const atFailure = await used();
  expect(atFailure).toBeLessThan(400);
  await new Promise((r) => setTimeout(r, 1500));
  expect(await used()).toBe(atFailure);
});
