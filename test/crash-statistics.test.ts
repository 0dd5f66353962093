import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { statisticsRows } from './helpers/statistics.ts';
import { connectTemporal, type TemporalTestContext } from './helpers/temporal.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('crash_statistics');
  temporal = await connectTemporal('crash-statistics');
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await temporal?.close();
  await database?.drop();
});

/** Passes and bookings spread over March to May 2025, every figure non-trivial on most days. */
async function seedStudio() {
  const user = await seedUser(database.db);
  const packages = [await seedPackage(database.db, 10, 30), await seedPackage(database.db, 20, 60)];
  await seedPackage(database.db, null, null);
  await database.db.execute(sql`
    INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at, expired_at, created_at)
    SELECT ${user}, CASE WHEN g % 3 = 0 THEN ${packages[1]!}::bigint ELSE ${packages[0]!}::bigint END,
           CASE WHEN g % 4 = 0 THEN 'EXPIRED'::pass_status ELSE 'PROGRESSED'::pass_status END,
           g % 7, start, start + interval '30 days',
           CASE WHEN g % 4 = 0 THEN start + interval '30 days' END, start
    FROM generate_series(1, 3000) AS g,
         LATERAL (SELECT timestamptz '2025-03-01 00:00+09' + (g * interval '29 minutes') AS start) s`);
  await database.db.execute(sql`
    INSERT INTO bookings (pass_id, user_id, status, used_pass, attended, started_at, ended_at, cancelled_at)
    SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE 1 + (g % 3000) END, ${user},
           CASE WHEN g % 9 = 0 THEN 'CANCELLED'::booking_status ELSE 'COMPLETED'::booking_status END,
           g % 9 <> 0 AND g % 10 <> 0, g % 5 <> 0, start, start + interval '50 minutes',
           CASE WHEN g % 9 = 0 THEN start - interval '1 hour' END
    FROM generate_series(1, 30000) AS g,
         LATERAL (SELECT timestamptz '2025-03-01 00:00+09' + (g * interval '4 minutes 7 seconds') AS start) s`);
}

it('a worker killed with SIGKILL mid-range is replaced and the rows equal a clean run', async () => {
  await seedStudio();
  const range = { from: '2025-03-01', to: '2025-04-29' }; // 60 days
  const env = { BUSINESS_TIMEZONE: 'Asia/Seoul' };

  const first = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue, env });
  workers.push(first);
  const launched = await launchJob(
    { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
    {
      job: 'statistics',
      asOf: uniqueAsOf(),
      params: range,
      // One day per chunk, throttled: the kill lands part-way; a short heartbeat timeout retries quickly.
      settings: { heartbeatTimeoutSeconds: 3, steps: { compute: { chunkSize: 1, pauseMs: 100 } } },
    },
  );
  expect(launched.outcome).toBe('started');

  const midway = await waitFor(async () => {
    const [row] = await database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, launched.runId), eq(stepRuns.step, 'compute')));
    return row && row.chunks >= 5 ? row : undefined;
  }, 'the compute step to commit a few days');
  first.kill('SIGKILL');
  expect((await first.exited).signal).toBe('SIGKILL');
  const [atKill] = await database.db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM statistics WHERE package_id IS NULL`,
  );
  expect(atKill!.n).toBeGreaterThanOrEqual(midway.chunks);
  expect(atKill!.n).toBeLessThan(60);

  const second = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue, env });
  workers.push(second);
  const crashed = (await temporal.client.workflow.getHandle(launched.workflowId).result()) as JobResult;
  const record = await getJobRun(database.db, launched.runId);
  expect(record?.steps.find((s) => s.step === 'compute')?.attempt).toBeGreaterThanOrEqual(2);
  const afterCrash = await statisticsRows(database.db);

  // A clean run over an empty table, same range.
  await database.db.execute(sql`TRUNCATE statistics`);
  const clean = await launchJob(
    { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
    { job: 'statistics', asOf: uniqueAsOf(), params: range, wait: true },
  );
  if (clean.outcome !== 'completed') throw new Error(`unexpected ${clean.outcome}`);
  const afterClean = await statisticsRows(database.db);

  expect(afterCrash).toEqual(afterClean);
  // 60 totals rows plus the package rows; each day read once and each row written once in both runs.
  expect(afterClean.filter((r) => r.package_id === null)).toHaveLength(60);
  expect(afterClean.length).toBeGreaterThan(60);
  expect(crashed).toMatchObject({ read: 60, written: afterClean.length, skipped: 0 });
  expect(clean.result).toMatchObject({ read: 60, written: afterClean.length, skipped: 0 });
  // The data is not trivial: every figure is non-zero somewhere.
  const totals = afterClean.filter((r) => r.package_id === null);
  for (const figure of [
    'bookings',
    'attended',
    'no_shows',
    'cancelled',
    'sessions_deducted',
    'passes_issued',
  ]) {
    expect(
      totals.some((r) => Number(r[figure]) > 0),
      figure,
    ).toBe(true);
  }
  for (const figure of ['passes_expired', 'active_passes', 'ending_passes', 'ending_sessions_used']) {
    expect(
      totals.some((r) => Number(r[figure]) > 0),
      figure,
    ).toBe(true);
  }

  second.kill('SIGTERM');
  expect((await second.exited).code).toBe(0);
});
