import { and, eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { seedStudio } from './helpers/seed-bookings.ts';
import { connectTemporal, type TemporalTestContext } from './helpers/temporal.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('crash_deduct');
  temporal = await connectTemporal('crash-deduct');
});
// A worker left polling by a failed test would take the next test's tasks with its own configuration.
afterEach(async () => {
  for (const w of workers.splice(0)) {
    w.kill('SIGKILL');
    await w.exited;
  }
});
afterAll(async () => {
  await temporal?.close();
  await database?.drop();
});
beforeEach(async () => {
  await database.db.execute(
    sql`TRUNCATE bookings, passes, job_runs, users, packages RESTART IDENTITY CASCADE`,
  );
});

const launchDeps = () => ({ client: temporal.client, db: database.db, taskQueue: temporal.taskQueue });

/**
 * What one clean run as of T leaves, computed from the seed by SQL written independently of the job's:
 * per pass, its due bookings in id order take sessions while there are any (all of them on an unlimited
 * pass); a pass whose count reaches 0 expires.
 */
async function expectedOutcome(T: Date) {
  const at = sql`${T.toISOString()}::timestamptz`;
  const bookings = await database.db.execute<{ id: string; pass_id: string; used: boolean }>(sql`
    WITH due AS (
      SELECT b.id, b.pass_id, b.status <> 'CANCELLED' AND b.ended_at <= ${at} AS due FROM bookings b
    )
    SELECT d.id::text, d.pass_id::text,
           d.due AND (p.remaining_count IS NULL
                      OR row_number() OVER (PARTITION BY d.pass_id, d.due ORDER BY d.id) <= p.remaining_count) AS used
    FROM due d JOIN passes p ON p.id = d.pass_id
    ORDER BY d.id`);
  const initial = await database.db.execute<{ id: string; remaining: number | null }>(
    sql`SELECT id::text, remaining_count AS remaining FROM passes p ORDER BY p.id`,
  );
  const usedPerPass = new Map<string, number>();
  for (const b of bookings) if (b.used) usedPerPass.set(b.pass_id, (usedPerPass.get(b.pass_id) ?? 0) + 1);
  return {
    bookings: bookings.map((r) => ({ id: r.id, used: r.used })),
    passes: initial.map((p) => ({
      id: p.id,
      remaining: p.remaining === null ? null : p.remaining - (usedPerPass.get(p.id) ?? 0),
    })),
    deducted: bookings.filter((r) => r.used).length,
  };
}

it('a worker killed with SIGKILL mid-step is replaced and every pass ends where a clean run leaves it', async () => {
  const T = uniqueAsOf();
  const user = await seedUser(database.db);
  const pkg = await seedPackage(database.db);
  const seeded = await seedStudio(database.db, {
    userId: user,
    packageId: pkg,
    asOf: T,
    passCount: 300,
    bookingsPerPass: 12,
  });
  const expected = await expectedOutcome(T);
  expect(expected.deducted).toBeGreaterThan(1000);
  expect(expected.deducted).toBeLessThan(seeded.due);

  const first = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
  workers.push(first);
  const launched = await launchJob(launchDeps(), {
    job: 'deduct-sessions',
    asOf: T,
    // Small, throttled chunks give the kill a wide window; a short heartbeat timeout a quick retry.
    // Many bookings outlive their pass's sessions here: they are skips, so the limit is lifted.
    settings: {
      heartbeatTimeoutSeconds: 3,
      steps: { deduct: { chunkSize: 50, pauseMs: 30, skipLimit: 100_000 } },
    },
  });
  expect(launched.outcome).toBe('started');

  const midway = await waitFor(async () => {
    const [row] = await database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, launched.runId), eq(stepRuns.step, 'deduct')));
    return row && row.chunks >= 5 ? row : undefined;
  }, 'the deduct step to commit a few chunks');
  first.kill('SIGKILL');
  expect((await first.exited).signal).toBe('SIGKILL');
  const [atKill] = await database.db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM bookings WHERE used_pass`,
  );
  expect(atKill!.n).toBeGreaterThanOrEqual(midway.writeCount);
  expect(atKill!.n).toBeLessThan(expected.deducted);

  const second = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
  workers.push(second);
  const result = (await temporal.client.workflow.getHandle(launched.workflowId).result()) as JobResult;

  // The counts of a clean run: nothing read twice, nothing deducted twice, nothing missed.
  const deduct = result.steps.find((s) => s.step === 'deduct')!;
  expect(deduct).toMatchObject({
    read: seeded.due,
    written: expected.deducted,
    skipped: seeded.due - expected.deducted,
  });
  const record = await getJobRun(database.db, launched.runId);
  expect(record?.run).toMatchObject({ status: 'COMPLETED', writeCount: expected.deducted });
  expect(record?.steps.find((s) => s.step === 'deduct')?.attempt).toBeGreaterThanOrEqual(2);

  // Every pass's count and every booking's state, row by row.
  const passes = await database.db.execute<{ id: string; remaining: number | null }>(
    sql`SELECT id::text, remaining_count AS remaining FROM passes p ORDER BY p.id`,
  );
  expect(passes.map((r) => ({ id: r.id, remaining: r.remaining }))).toEqual(expected.passes);
  const bookings = await database.db.execute<{ id: string; used: boolean }>(
    sql`SELECT id::text, used_pass AS used FROM bookings b ORDER BY b.id`,
  );
  expect(bookings.map((r) => ({ id: r.id, used: r.used }))).toEqual(expected.bookings);
  const [states] = await database.db.execute<{ bad_bookings: number; bad_passes: number }>(sql`
    SELECT (SELECT count(*) FROM bookings WHERE used_pass <> (status = 'COMPLETED'))::int AS bad_bookings,
           (SELECT count(*) FROM passes
             WHERE (remaining_count = 0) <> (status = 'EXPIRED' AND expired_at = ${T.toISOString()}::timestamptz)
           )::int AS bad_passes`);
  expect(states).toEqual({ bad_bookings: 0, bad_passes: 0 });

  second.kill('SIGTERM');
  expect((await second.exited).code).toBe(0);
});

it('a worker process started with NO_SHOW_POLICY=keep leaves no-shows alone and counts them', async () => {
  const T = uniqueAsOf();
  const user = await seedUser(database.db);
  const pkg = await seedPackage(database.db);
  await seedStudio(database.db, { userId: user, packageId: pkg, asOf: T, passCount: 30, bookingsPerPass: 6 });
  const [noShows] = await database.db.execute<{ n: number }>(sql`
    SELECT count(*)::int AS n FROM bookings
    WHERE NOT attended AND status <> 'CANCELLED' AND ended_at <= ${T.toISOString()}::timestamptz`);
  expect(noShows!.n).toBeGreaterThan(0);

  const keeper = await spawnWorker({
    databaseUrl: database.url,
    taskQueue: temporal.taskQueue,
    env: { NO_SHOW_POLICY: 'keep' },
  });
  workers.push(keeper);
  const launched = await launchJob(launchDeps(), {
    job: 'deduct-sessions',
    asOf: T,
    wait: true,
    settings: { steps: { deduct: { skipLimit: 100_000 } } },
  });
  if (launched.outcome !== 'completed') throw new Error(`unexpected ${launched.outcome}`);
  expect(launched.result.steps.find((s) => s.step === 'no-shows')).toMatchObject({ read: noShows!.n });
  const [used] = await database.db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM bookings WHERE used_pass AND NOT attended`,
  );
  expect(used!.n).toBe(0);

  keeper.kill('SIGTERM');
  expect((await keeper.exited).code).toBe(0);
});
