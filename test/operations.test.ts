import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { jobRuns, stepRuns, stepSkips } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedManyPasses, seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { connectTemporal, type RunningWorker, type TemporalTestContext } from './helpers/temporal.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
const processes: WorkerProcess[] = [];
let inProcess: RunningWorker | undefined;

beforeAll(async () => {
  database = await createTestDatabase('operations');
  temporal = await connectTemporal('operations');
});
afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await inProcess?.stop();
  await temporal?.close();
  await database?.drop();
});

describe('operations', () => {
  it('SIGTERM during a long step: the worker exits 0 after the chunk in flight commits; a new worker resumes', async () => {
    const T = uniqueAsOf();
    const user = await seedUser(database.db);
    const pkg = await seedPackage(database.db);
    const { due } = await seedManyPasses(database.db, {
      count: 6000,
      userId: user,
      packageId: pkg,
      asOf: T,
      every: 2,
    });

    const first = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
    processes.push(first);
    const launched = await launchJob(
      { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
      { job: 'pass-lifecycle', asOf: T, settings: { steps: { expire: { chunkSize: 100, pauseMs: 50 } } } },
    );
    const stepRow = () =>
      database.db
        .select()
        .from(stepRuns)
        .where(and(eq(stepRuns.jobRunId, launched.runId), eq(stepRuns.step, 'expire')))
        .then((rows) => rows[0]);
    await waitFor(async () => ((await stepRow())?.chunks ?? 0) >= 3, 'a few committed chunks');
    first.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit.code).toBe(0);
    expect(first.logs.join('\n')).toContain('stop requested; letting the chunks in flight commit');

    // It stopped part-way: what it committed is consistent with its checkpoint.
    const atStop = await stepRow();
    expect(atStop?.status).toBe('RUNNING');
    expect(atStop!.writeCount).toBeLessThan(due);
    const [expired] = await database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM passes WHERE status = 'EXPIRED'`,
    );
    expect(expired!.n).toBe(atStop!.writeCount);

    const second = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
    processes.push(second);
    const result = (await temporal.client.workflow.getHandle(launched.workflowId).result()) as JobResult;
    expect(result.steps.find((s) => s.step === 'expire')).toMatchObject({ read: due, written: due });
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('prune-run-records deletes finished run records past the retention age, in chunks, and keeps the rest', async () => {
    const T = uniqueAsOf();
    const daysBefore = (n: number) => new Date(T.getTime() - n * 86_400_000);
    const record = (id: string, status: 'COMPLETED' | 'FAILED' | 'RUNNING', endedDaysAgo: number | null) => ({
      id,
      workflowId: `old-${id}`,
      job: 'pass-lifecycle',
      asOf: daysBefore(endedDaysAgo ?? 200),
      status,
      startedAt: daysBefore((endedDaysAgo ?? 200) + 1),
      endedAt: endedDaysAgo === null ? null : daysBefore(endedDaysAgo),
    });
    const ids = {
      oldCompleted: '00000000-0000-7000-8000-000000000001',
      oldFailed: '00000000-0000-7000-8000-000000000002',
      oldRunning: '00000000-0000-7000-8000-000000000003',
      recent: '00000000-0000-7000-8000-000000000004',
      oldCompleted2: '00000000-0000-7000-8000-000000000005',
      edge: '00000000-0000-7000-8000-000000000006',
    };
    await database.db
      .insert(jobRuns)
      .values([
        record(ids.oldCompleted, 'COMPLETED', 120),
        record(ids.oldFailed, 'FAILED', 91),
        record(ids.oldRunning, 'RUNNING', null),
        record(ids.recent, 'COMPLETED', 10),
        record(ids.oldCompleted2, 'COMPLETED', 365),
        record(ids.edge, 'COMPLETED', 89),
      ]);
    const [step] = await database.db
      .insert(stepRuns)
      .values({ jobRunId: ids.oldCompleted, step: 'expire' })
      .returning();
    await database.db.insert(stepSkips).values({ stepRunId: step!.id, itemKey: '42', reason: 'test' });

    inProcess = await temporal.startWorker({
      db: database.db,
      paramDefaults: { 'prune-run-records': { retentionDays: 90 } },
    });
    const launched = await launchJob(
      { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
      { job: 'prune-run-records', asOf: T, wait: true, settings: { steps: { prune: { chunkSize: 2 } } } },
    );
    if (launched.outcome !== 'completed') throw new Error(launched.outcome);
    expect(launched.result.steps[0]).toMatchObject({ step: 'prune', written: 3 });
    expect(launched.result.steps[0]!.chunks).toBeGreaterThanOrEqual(2);

    const left = await database.db.select({ id: jobRuns.id }).from(jobRuns);
    expect(left.map((r) => r.id)).toEqual(
      expect.arrayContaining([ids.oldRunning, ids.recent, ids.edge, launched.runId]),
    );
    expect(left.map((r) => r.id)).not.toContain(ids.oldCompleted);
    expect(await database.db.$count(stepSkips)).toBe(0);
    expect(await getJobRun(database.db, ids.oldFailed)).toBeUndefined();

    // A shorter retention given as a parameter.
    const again = await launchJob(
      { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
      {
        job: 'prune-run-records',
        asOf: new Date(T.getTime() + 1000),
        params: { retentionDays: 30 },
        wait: true,
      },
    );
    if (again.outcome !== 'completed') throw new Error(again.outcome);
    expect(again.result.written).toBe(1);
    await inProcess.stop();
    inProcess = undefined;
  });
});
