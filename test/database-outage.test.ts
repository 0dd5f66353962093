import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openImportFile } from '../src/client/import-file.ts';
import { importFile } from '../src/client/imports.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { createDb, type Db, migrateDatabase } from '../src/db/client.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { isAlive } from '../src/stack/processes.ts';
import { type OwnPostgres, startOwnPostgres } from './helpers/embedded-postgres.ts';
import { importCounts, importedMembers, importRejects, membersCsv } from './helpers/import-files.ts';
import {
  seedBooking,
  seedManyBookings,
  seedManyPasses,
  seedPackage,
  seedUser,
  uniqueAsOf,
} from './helpers/seed.ts';
import { connectTemporal, type TemporalTestContext } from './helpers/temporal.ts';
import { expectSentOnceUnderTheirKeys, startReceiver, webhookWorkerEnv } from './helpers/webhook-receiver.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

/**
 * The worker outlives database faults: PostgreSQL restarted, crashed or stopped for 30 s under a running
 * step — a set-based step (`pass-lifecycle`), one with effects outside the database (`class-reminders`'
 * delivery, whose pages lost in a crash are sent again under the same Idempotency-Key), and an import in
 * line-range partitions (whose step `finish` sets the import's counts once the last range is done).
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

/**
 * Watches `worker` from now on; `result` then awaits the run's result and checks that this same process
 * saw the database go away, resumed `step` from its checkpoint and never exited.
 */
function survivingWorker(worker: WorkerProcess) {
  let exitedEarly = false;
  void worker.exited.then(() => {
    exitedEarly = true;
  });
  return {
    async result(workflowId: string, step: string): Promise<JobResult> {
      const result = (await Promise.race([
        temporal.client.workflow.getHandle(workflowId).result(),
        worker.exited.then(({ code, signal }) => {
          throw new Error(
            `the worker died (code ${code}, signal ${signal}):\n${worker.logs.slice(-5).join('\n')}`,
          );
        }),
      ])) as JobResult;
      // The same worker process finished the run: it never exited.
      expect(exitedEarly).toBe(false);
      expect(isAlive(worker.pid)).toBe(true);
      expect(worker.logs.join('\n')).not.toContain('TypeError');
      // The interrupted attempt failed with a retryable error naming the connection loss; the next resumed.
      const logs = worker.logs.flatMap((line) => {
        try {
          return [JSON.parse(line) as { msg?: string; step?: string }];
        } catch {
          return [];
        }
      });
      expect(logs.some((l) => l.msg?.includes('database connection lost'))).toBe(true);
      expect(logs.some((l) => l.step === step && l.msg === 'step resumed from checkpoint')).toBe(true);
      return result;
    },
  };
}

async function expectThroughOutage(
  worker: WorkerProcess,
  db: Db,
  T: Date,
  due: number,
  outage: (db: Db) => Promise<void>,
) {
  const watched = survivingWorker(worker);
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

  const result = await watched.result(launched.workflowId, 'expire');

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

/**
 * A crash that loses committed-but-unflushed chunks: what the test saw committed is made durable first
 * (CHECKPOINT flushes the WAL up to now), so the step has a checkpoint to resume from; the chunks committed
 * after it may be lost in the crash. Chunks commit without waiting for their WAL flush (step-runner.ts).
 */
async function crashAndRestart(db: Db) {
  await db.execute(sql`CHECKPOINT`);
  await server.crash();
  await server.start();
}

it('a PostgreSQL restart mid-step: the same worker process resumes from the checkpoint and completes the run', async () => {
  await runThroughOutage('restart', async () => {
    await server.stop();
    await server.start();
  });
});

it('a PostgreSQL crash mid-step: chunks whose commit had not reached the disk are redone, none twice', async () => {
  // An immediate shutdown may lose the last chunks, each together with its checkpoint, so the resumed step
  // does them again.
  await runThroughOutage('crash', crashAndRestart);
});

it('PostgreSQL stopped for 30 s mid-step: the same worker process waits, then completes the run', async () => {
  await runThroughOutage('stop', async () => {
    await server.stop();
    // A deliberate outage, not a timed assertion.
    await new Promise((r) => setTimeout(r, 30_000));
    await server.start();
  });
});

it('a PostgreSQL crash mid-delivery of class reminders: the same worker resumes, every reminder is SENT once and delivered under its key', async () => {
  // 4,000 due: delivery runs in two partitions (one per 2,000 due), each sending pages of 500.
  const COUNT = 4000;
  const PAGE = 500;
  const SECRET = 'outage-test-webhook-secret-7';
  // Answers after a few milliseconds, so sending lasts a few seconds: pages commit while many are PENDING.
  const receiver = await startReceiver(SECRET, () => ({ status: 200, delayMs: 5 }));
  closers.push(receiver.close);
  const { url, db } = await freshDatabase('reminders');

  const T = uniqueAsOf();
  const minutes = (n: number) => new Date(T.getTime() + n * 60_000);
  const user = await seedUser(db, '장애');
  await seedManyBookings(db, { count: COUNT, userId: user, startsAt: minutes(5) });
  // Outside the window (T, T + 10 min]: never reminded.
  await seedBooking(db, { userId: user, startedAt: T });
  await seedBooking(db, { userId: user, startedAt: minutes(11) });

  const worker = await spawnWorker({
    databaseUrl: url,
    taskQueue: temporal.taskQueue,
    env: webhookWorkerEnv(receiver, SECRET),
  });
  workers.push(worker);
  try {
    const watched = survivingWorker(worker);
    const launched = await launchJob(
      { client: temporal.client, db, taskQueue: temporal.taskQueue },
      { job: 'class-reminders', asOf: T },
    );
    expect(launched.outcome).toBe('started');

    // Delivery under way: at least one page committed (a checkpoint to resume from), none finished.
    const atCrash = await waitFor(async () => {
      const [counts] = await db.execute<{ sent: number; pending: number }>(sql`
        SELECT count(*) FILTER (WHERE status = 'SENT')::int AS sent,
               count(*) FILTER (WHERE status = 'PENDING')::int AS pending
        FROM notifications`);
      return counts && counts.sent >= PAGE && counts.sent <= 2 * PAGE ? counts : undefined;
    }, 'the deliver step to commit a page');
    expect(atCrash.sent + atCrash.pending).toBe(COUNT);

    // Pages sent but lost in the crash (or rolled back) are sent again, with the same Idempotency-Key.
    await crashAndRestart(db);
    const result = await watched.result(launched.workflowId, 'deliver');

    // A clean run's counts: the pages lost or rolled back were redone, their counts with them.
    expect(result.steps.map((s) => [s.step, s.read, s.written, s.skipped])).toEqual([
      ['enqueue', COUNT, COUNT, 0],
      ['deliver', COUNT, COUNT, 0],
    ]);
    expect(result.steps.find((s) => s.step === 'deliver')?.partitions).toBe(2);
    const record = await getJobRun(db, launched.runId);
    expect(record?.run.status).toBe('COMPLETED');
    const deliver = record?.steps.filter((s) => s.step === 'deliver') ?? [];
    expect(deliver.every((s) => s.status === 'COMPLETED')).toBe(true);
    expect(Math.max(...deliver.map((s) => s.attempt))).toBeGreaterThanOrEqual(2);

    // Every booking in the window has exactly one notification, SENT on its first recorded attempt;
    // nothing PENDING or FAILED, nothing for the bookings outside the window.
    const perBooking = await db.execute<{ in_window: boolean; n: number; sent: number }>(sql`
      SELECT b.started_at > ${T.toISOString()}::timestamptz
               AND b.started_at <= ${minutes(10).toISOString()}::timestamptz AS in_window,
             count(n.id)::int AS n, count(n.id) FILTER (WHERE n.status = 'SENT')::int AS sent
      FROM bookings b
      LEFT JOIN notifications n ON n.event = 'class-reminder' AND n.subject->>'bookingId' = b.id::text
      GROUP BY b.id, in_window`);
    expect(perBooking.filter((b) => b.in_window)).toHaveLength(COUNT);
    expect(perBooking.filter((b) => !(b.in_window ? b.n === 1 && b.sent === 1 : b.n === 0))).toEqual([]);
    const [outbox] = await db.execute<{ n: number; sent: number; attempts: number }>(sql`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'SENT')::int AS sent,
             max(attempts)::int AS attempts
      FROM notifications`);
    expect(outbox).toEqual({ n: COUNT, sent: COUNT, attempts: 1 });

    // The receiver got exactly the SENT notifications: no key the outbox does not record as sent, none
    // recorded as sent that never arrived. Repeats carry the same key, body and a valid signature.
    const byKey = await expectSentOnceUnderTheirKeys(db, receiver);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(byKey.size);

    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  } catch (err) {
    // A worker left polling the shared task queue would take the next test's steps and keep sending.
    worker.kill('SIGKILL');
    throw err;
  }
});

it("a PostgreSQL crash under a members import in 3 line ranges: the same worker resumes, and the rows, rejects and counts are a clean import's", async () => {
  const COUNT = 3000;
  // Lines at the end repeat external ids of the first range's lines: rejected across ranges.
  const REPEATS = 20;
  const { url, db } = await freshDatabase('import');
  // Import ids apart from other files' (an import's job instance is named after its id; the namespace is shared).
  await db.execute(sql`ALTER SEQUENCE imports_id_seq RESTART WITH 300000`);
  const worker = await spawnWorker({ databaseUrl: url, taskQueue: temporal.taskQueue });
  workers.push(worker);
  const importMembers = async (prefix: string, upsert: Record<string, number>, wait: boolean) =>
    importFile(
      { client: temporal.client, db, taskQueue: temporal.taskQueue },
      {
        kind: 'members',
        fileName: 'members.csv',
        file: await openImportFile(
          'members',
          Readable.from([Buffer.from(membersCsv(prefix, COUNT, REPEATS))]),
        ),
        wait,
        settings: { steps: { upsert } },
      },
    );
  try {
    const clean = await importMembers('c-', { partitions: 1 }, true);
    expect(clean).toMatchObject({ rows: COUNT + REPEATS, rejected: Math.floor(COUNT / 97) + REPEATS });

    const watched = survivingWorker(worker);
    // Small, paced chunks: the crash finds every range part-way.
    const started = await importMembers('x-', { partitions: 3, chunkSize: 50, pauseMs: 150 }, false);
    expect(started.launch.outcome).toBe('started');
    const ranges = () =>
      db
        .select()
        .from(stepRuns)
        .where(and(eq(stepRuns.jobRunId, started.launch.runId), eq(stepRuns.step, 'upsert')));
    const atCrash = await waitFor(async () => {
      const rows = await ranges();
      return rows.length === 3 && rows.every((r) => r.chunks >= 3) ? rows : undefined;
    }, 'every range of the import to commit a few chunks');
    expect(atCrash.every((r) => r.status === 'RUNNING')).toBe(true);

    await crashAndRestart(db);
    const result = await watched.result(started.launch.workflowId, 'upsert');

    // A clean import's counts, rows and rejects: chunks lost in the crash were redone, none applied twice.
    expect(result).toMatchObject({ read: COUNT + REPEATS, written: clean.written, skipped: clean.rejected });
    expect(result.steps[0]!.partitions).toBe(3);
    const after = await ranges();
    expect(after.every((r) => r.status === 'COMPLETED')).toBe(true);
    expect(Math.max(...after.map((r) => r.attempt))).toBeGreaterThanOrEqual(2);
    const cleanRows = await importedMembers(db, 'c-');
    expect(cleanRows).toHaveLength(COUNT - Math.floor(COUNT / 97));
    expect(await importedMembers(db, 'x-')).toEqual(cleanRows);
    expect(await importRejects(db, started.importId, 'members', 'x-')).toEqual(
      await importRejects(db, clean.importId, 'members', 'c-'),
    );
    // The import's own counts: the whole file's, set once after the last range.
    expect(await importCounts(db, started.importId)).toEqual({
      status: 'IMPORTED',
      written: clean.written,
      rejected: clean.rejected,
    });

    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  } catch (err) {
    worker.kill('SIGKILL');
    throw err;
  }
});
