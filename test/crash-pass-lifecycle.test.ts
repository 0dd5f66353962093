import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedManyPasses, seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { connectTemporal, type TemporalTestContext } from './helpers/temporal.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('crash_lifecycle');
  temporal = await connectTemporal('crash-lifecycle');
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await temporal?.close();
  await database?.drop();
});

it('a worker killed with SIGKILL mid-step is replaced and every pass changes exactly once', async () => {
  const T = uniqueAsOf();
  const user = await seedUser(database.db);
  const pkg = await seedPackage(database.db);
  const { due } = await seedManyPasses(database.db, {
    count: 8000,
    userId: user,
    packageId: pkg,
    asOf: T,
    every: 2,
  });
  const expectedUnchanged = 8000 - due;

  const first = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
  workers.push(first);
  const launched = await launchJob(
    { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
    {
      job: 'pass-lifecycle',
      asOf: T,
      // Small, throttled chunks give the kill a wide window; a short heartbeat timeout a quick retry.
      settings: { heartbeatTimeoutSeconds: 3, steps: { expire: { chunkSize: 100, pauseMs: 30 } } },
    },
  );
  expect(launched.outcome).toBe('started');

  // Kill the worker while the expire step is part-way through.
  const midway = await waitFor(async () => {
    const [row] = await database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, launched.runId), eq(stepRuns.step, 'expire')));
    return row && row.chunks >= 5 ? row : undefined;
  }, 'the expire step to commit a few chunks');
  first.kill('SIGKILL');
  expect((await first.exited).signal).toBe('SIGKILL');
  const [atKill] = await database.db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM passes WHERE status = 'EXPIRED'`,
  );
  expect(atKill!.n).toBeGreaterThanOrEqual(midway.writeCount);
  expect(atKill!.n).toBeLessThan(due);

  const second = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
  workers.push(second);
  const result = (await temporal.client.workflow.getHandle(launched.workflowId).result()) as JobResult;

  // The same counts a clean run produces: nothing read twice, nothing written twice, nothing missed.
  const expire = result.steps.find((s) => s.step === 'expire')!;
  expect(expire).toMatchObject({ read: due, written: due, skipped: 0 });
  const record = await getJobRun(database.db, launched.runId);
  expect(record?.run).toMatchObject({ status: 'COMPLETED', readCount: due, writeCount: due });
  const expireRecord = record?.steps.find((s) => s.step === 'expire');
  expect(expireRecord?.attempt).toBeGreaterThanOrEqual(2);

  const rows = await database.db.execute<{ status: string; at_t: boolean; n: number }>(sql`
    SELECT status, expired_at = ${T.toISOString()}::timestamptz AS at_t, count(*)::int AS n
    FROM passes GROUP BY 1, 2 ORDER BY 1`);
  expect(rows.map((r) => ({ ...r }))).toEqual([
    { status: 'PROGRESSED', at_t: null, n: expectedUnchanged },
    { status: 'EXPIRED', at_t: true, n: due },
  ]);
  second.kill('SIGTERM');
  expect((await second.exited).code).toBe(0);
});
