import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { createDb, type Db, migrateDatabase } from '../src/db/client.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { type OwnPostgres, startOwnPostgres } from './helpers/embedded-postgres.ts';
import { seedManyPasses, seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { connectTemporal, type TemporalTestContext } from './helpers/temporal.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

/**
 * The worker outlives database faults: PostgreSQL restarted or stopped for 30 s under a running step.
 * The server is one of this file's own (embedded-postgres), never the shared one.
 */

let server: OwnPostgres;
let temporal: TemporalTestContext;
const workers: WorkerProcess[] = [];
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  server = await startOwnPostgres();
  temporal = await connectTemporal('db-outage');
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  for (const close of closers) await close().catch(() => {});
  await temporal?.close();
  await server?.destroy();
});

it('the installed postgres driver carries the project patch (nextWrite guards a closed socket)', () => {
  const require = createRequire(import.meta.url);
  const esm = require.resolve('postgres').replace(/cjs[\\/]src[\\/]index\.js$/, 'src/connection.js');
  const cjs = require.resolve('postgres').replace(/index\.js$/, 'connection.js');
  for (const file of [esm, cjs]) {
    const source = readFileSync(file, 'utf8');
    expect(source, file).toMatch(/function nextWrite\(fn\) \{\n(.*\n){0,3}\s*if \(!socket\) \{/);
  }
});

async function freshDatabase(label: string): Promise<{ url: string; db: Db }> {
  const url = await server.createDatabase(`ptpass_outage_${label}`);
  await migrateDatabase({ url });
  const handle = createDb({ url, max: 2, applicationName: 'ptpass-test' });
  closers.push(handle.close);
  return { url, db: handle.db };
}

async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function runThroughOutage(label: string, outage: (db: Db) => Promise<void>) {
  const { url, db } = await freshDatabase(label);
  const T = uniqueAsOf();
  const user = await seedUser(db);
  const pkg = await seedPackage(db);
  const { due } = await seedManyPasses(db, {
    count: 100_000,
    userId: user,
    packageId: pkg,
    asOf: T,
    every: 2,
  });

  const worker = await spawnWorker({ databaseUrl: url, taskQueue: temporal.taskQueue });
  workers.push(worker);
  try {
    await expectThroughOutage(worker, db, T, due, outage);
  } catch (err) {
    // A worker left polling the shared task queue would take the next test's steps to this database.
    worker.kill('SIGKILL');
    throw err;
  }
}

async function expectThroughOutage(
  worker: WorkerProcess,
  db: Db,
  T: Date,
  due: number,
  outage: (db: Db) => Promise<void>,
) {
  let exitedEarly = false;
  void worker.exited.then(() => {
    exitedEarly = true;
  });
  const launched = await launchJob(
    { client: temporal.client, db, taskQueue: temporal.taskQueue },
    // Chunks back to back: the database goes away while a chunk's UPDATE is running.
    { job: 'pass-lifecycle', asOf: T, settings: { steps: { expire: { chunkSize: 2000 } } } },
  );
  expect(launched.outcome).toBe('started');

  await waitFor(async () => {
    const [row] = await db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, launched.runId), eq(stepRuns.step, 'expire')));
    return row && row.chunks >= 2 ? row : undefined;
  }, 'the expire step to commit a few chunks');

  await outage(db);

  const result = (await Promise.race([
    temporal.client.workflow.getHandle(launched.workflowId).result(),
    worker.exited.then(({ code, signal }) => {
      throw new Error(
        `the worker died (code ${code}, signal ${signal}):\n${worker.logs.slice(-5).join('\n')}`,
      );
    }),
  ])) as JobResult;

  // The same worker process finished the run: it never exited.
  expect(exitedEarly).toBe(false);
  expect(await alive(worker.pid)).toBe(true);
  expect(worker.logs.join('\n')).not.toContain('TypeError');
  // The interrupted attempt failed with a retryable error naming the connection loss; the next resumed.
  expect(worker.logs.some((l) => l.includes('database connection lost'))).toBe(true);
  expect(worker.logs.some((l) => l.includes('step resumed from checkpoint'))).toBe(true);

  // Rows identical to a clean run: every due pass expired exactly once at T, nothing else touched.
  const expire = result.steps.find((s) => s.step === 'expire')!;
  expect(expire).toMatchObject({ read: due, written: due, skipped: 0 });
  const record = await getJobRun(db, launched.runId);
  expect(record?.run).toMatchObject({ status: 'COMPLETED', readCount: due, writeCount: due });
  expect(record?.steps.find((s) => s.step === 'expire')?.attempt).toBeGreaterThanOrEqual(2);
  const rows = await db.execute<{ status: string; at_t: boolean; n: number }>(sql`
    SELECT status, expired_at = ${T.toISOString()}::timestamptz AS at_t, count(*)::int AS n
    FROM passes GROUP BY 1, 2 ORDER BY 1`);
  expect(rows.map((r) => ({ ...r }))).toEqual([
    { status: 'PROGRESSED', at_t: null, n: 100_000 - due },
    { status: 'EXPIRED', at_t: true, n: due },
  ]);

  worker.kill('SIGTERM');
  expect((await worker.exited).code).toBe(0);
}

it('a PostgreSQL restart mid-step: the same worker process resumes from the checkpoint and completes the run', async () => {
  await runThroughOutage('restart', async () => {
    await server.stop();
    await server.start();
  });
});

it('a PostgreSQL crash mid-step: chunks whose commit had not reached the disk are redone, none twice', async () => {
  // Chunks commit without waiting for their WAL flush (step-runner.ts): an immediate shutdown may lose the
  // last of them, each together with its checkpoint, so the resumed step does them again.
  await runThroughOutage('crash', async (db) => {
    // What the test saw committed is made durable first (CHECKPOINT flushes the WAL up to now), so the step
    // has a checkpoint to resume from; the chunks committed after it may be lost in the crash.
    await db.execute(sql`CHECKPOINT`);
    await server.crash();
    await server.start();
  });
});

it('PostgreSQL stopped for 30 s mid-step: the same worker process waits, then completes the run', async () => {
  await runThroughOutage('stop', async () => {
    await server.stop();
    // A deliberate outage, not a timed assertion.
    await new Promise((r) => setTimeout(r, 30_000));
    await server.start();
  });
});
