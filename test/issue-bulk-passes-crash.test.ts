import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { bulkPasses, stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedBulkPass, seedLargeGroup, seedPackage, uniqueAsOf } from './helpers/seed.ts';
import { connectTemporal, type TemporalTestContext } from './helpers/temporal.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('crash_bulk_issue');
  temporal = await connectTemporal('crash-bulk-issue');
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await temporal?.close();
  await database?.drop();
});

it('a worker killed with SIGKILL mid-issuance is replaced: no member gets two passes, none is missed', async () => {
  const T = uniqueAsOf();
  const db = database.db;
  const pkg = await seedPackage(db, 10, 30);
  // Two due bulk passes, so the kill can land on either side of the boundary between them.
  const big = await seedLargeGroup(db, { count: 20_000, inactiveEvery: 10 });
  const small = await seedLargeGroup(db, { count: 500, inactiveEvery: 5 });
  const bigPass = await seedBulkPass(db, {
    packageId: pkg,
    groupId: big.groupId,
    startedAt: new Date(T.getTime() - 86_400_000),
  });
  const smallPass = await seedBulkPass(db, { packageId: pkg, groupId: small.groupId, startedAt: T });

  const first = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
  workers.push(first);
  const launched = await launchJob(
    { client: temporal.client, db, taskQueue: temporal.taskQueue },
    {
      job: 'issue-bulk-passes',
      asOf: T,
      // Small, throttled chunks give the kill a wide window; a short heartbeat timeout a quick retry.
      settings: { heartbeatTimeoutSeconds: 3, steps: { issue: { chunkSize: 200, pauseMs: 30 } } },
    },
  );
  expect(launched.outcome).toBe('started');

  const midway = await waitFor(async () => {
    const [row] = await db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, launched.runId), eq(stepRuns.step, 'issue')));
    return row && row.chunks >= 10 ? row : undefined;
  }, 'the issue step to commit a few chunks');
  first.kill('SIGKILL');
  expect((await first.exited).signal).toBe('SIGKILL');
  const [atKill] = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM passes`);
  expect(atKill!.n).toBeGreaterThanOrEqual(midway.writeCount);
  expect(atKill!.n).toBeLessThan(big.active + small.active);

  const second = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
  workers.push(second);
  const result = (await temporal.client.workflow.getHandle(launched.workflowId).result()) as JobResult;

  // The counts of one clean run: every member read once, every ACTIVE member issued once.
  expect(result.steps.find((s) => s.step === 'issue')).toMatchObject({
    read: 20_500,
    written: big.active + small.active,
    skipped: 0,
  });
  const record = await getJobRun(db, launched.runId);
  expect(record?.steps.find((s) => s.step === 'issue')?.attempt).toBeGreaterThanOrEqual(2);

  // Row by row: each ACTIVE member holds exactly one pass of each bulk pass, each INACTIVE one none.
  const rows = await db.execute<{
    bulk_pass_id: number;
    status: string;
    holders: number;
    passes: number;
  }>(sql`
    SELECT bp.id::int AS bulk_pass_id, u.status, count(DISTINCT p.user_id)::int AS holders, count(p.id)::int AS passes
    FROM bulk_passes bp
    JOIN user_group_members gm ON gm.group_id = bp.group_id
    JOIN users u ON u.id = gm.user_id
    LEFT JOIN passes p ON p.bulk_pass_id = bp.id AND p.user_id = gm.user_id
    GROUP BY 1, 2 ORDER BY 1, 2`);
  expect(rows.map((r) => ({ ...r }))).toEqual([
    { bulk_pass_id: bigPass, status: 'ACTIVE', holders: big.active, passes: big.active },
    { bulk_pass_id: bigPass, status: 'INACTIVE', holders: 0, passes: 0 },
    { bulk_pass_id: smallPass, status: 'ACTIVE', holders: small.active, passes: small.active },
    { bulk_pass_id: smallPass, status: 'INACTIVE', holders: 0, passes: 0 },
  ]);
  const [total] = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM passes`);
  expect(total!.n).toBe(big.active + small.active);

  const done = await db.select().from(bulkPasses).orderBy(bulkPasses.id);
  expect(done.map((b) => [b.id, b.status, b.issuedCount, b.skippedCount])).toEqual([
    [bigPass, 'COMPLETED', big.active, big.inactive],
    [smallPass, 'COMPLETED', small.active, small.inactive],
  ]);
  second.kill('SIGTERM');
  expect((await second.exited).code).toBe(0);
});
