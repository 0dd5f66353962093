import { hostname } from 'node:os';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import type { Db } from '../src/db/client.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedManyPasses, seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { spawnWorker, type WorkerProcess } from './helpers/worker-process.ts';

/**
 * Scaling out: two worker processes on one task queue share a partitioned step — each runs some of its
 * partitions — and the rows are exactly those one worker leaves. Which worker ran a partition is read from
 * the workflow history (the ActivityTaskStarted event's `identity`, `<pid>@<host>` by default).
 */

const env = useJobTestEnvironment('many-workers');
let single: TestDatabase;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  single = await createTestDatabase('many_workers_single');
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await single?.drop();
});

/** The same passes in any database: fresh sequences give the same IDs. */
async function seed(db: Db, asOf: Date): Promise<number> {
  const user = await seedUser(db, 'Scale');
  const pkg = await seedPackage(db, 5, 30);
  const { due } = await seedManyPasses(db, { count: 8000, userId: user, packageId: pkg, asOf, every: 2 });
  return due;
}

async function passRows(db: Db) {
  return db.execute<{ id: number; status: string; expired_at: string | null }>(
    sql`SELECT id, status, expired_at::text FROM passes ORDER BY id`,
  );
}

describe('two worker processes', () => {
  it('both run partitions of a 4-partition step, and the rows equal a one-worker run', async () => {
    const asOf = uniqueAsOf();
    const due = await seed(env.database.db, asOf);
    expect(await seed(single.db, asOf)).toBe(due);

    // Two activity slots each: neither process can take all four partitions, as with real capacity limits.
    for (let i = 0; i < 2; i++) {
      workers.push(
        await spawnWorker({
          databaseUrl: env.database.url,
          taskQueue: env.temporal.taskQueue,
          env: { WORKER_ACTIVITY_SLOTS: '2' },
        }),
      );
    }
    // Small chunks with a pause: each partition lasts long enough to be running on its worker while the
    // others are handed out.
    const settings = { steps: { expire: { partitions: 4, chunkSize: 100, pauseMs: 20 } } };
    const two = await launchJob(env.launchDeps(), { job: 'pass-lifecycle', asOf, settings, wait: true });
    expect(two.outcome).toBe('completed');
    if (two.outcome !== 'completed') return;
    const expire = two.result.steps.find((s) => s.step === 'expire')!;
    expect(expire).toMatchObject({ partitions: 4, written: due });

    // Which process ran each partition of the step.
    const history = await env.temporal.client.workflow.getHandle(two.workflowId, two.runId).fetchHistory();
    const events = history.events ?? [];
    const scheduled = new Map<string, string>();
    for (const e of events) {
      const a = e.activityTaskScheduledEventAttributes;
      if (a?.activityType?.name === 'runStep') scheduled.set(String(e.eventId), a.activityId ?? '');
    }
    const ranBy = events
      .filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId ?? '')))
      .map((e) => e.activityTaskStartedEventAttributes!.identity!);
    // expire's 4 partitions (nothing is due to activate: planning recorded it without an activity).
    expect(ranBy).toHaveLength(4);
    const byWorker = workers.map((w) => ranBy.filter((id) => id === `${w.pid}@${hostname()}`).length);
    expect(byWorker.every((n) => n > 0)).toBe(true);
    expect(byWorker.reduce((a, b) => a + b, 0)).toBe(4);

    // The same job with one (in-process) worker on the other database, once the two processes are gone.
    for (const w of workers.splice(0)) {
      w.kill('SIGTERM');
      await w.exited;
    }
    const inProcess = await env.temporal.startWorker({ db: single.db });
    const one = await launchJob(
      { ...env.launchDeps(), db: single.db },
      {
        job: 'pass-lifecycle',
        asOf,
        settings: { steps: { expire: { partitions: 1 } } },
        wait: true,
        rerun: true,
      },
    );
    await inProcess.stop();
    expect(one.outcome).toBe('completed');
    expect(await passRows(single.db)).toEqual(await passRows(env.database.db));
    const expired = (await passRows(single.db)).filter((r) => r.status === 'EXPIRED');
    expect(expired).toHaveLength(due);
  });
});
