import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { apiIdempotencyKeys, jobRuns, stepRuns, stepSkips } from '../src/db/schema.ts';
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

  it('prune-run-records also deletes old idempotency keys and finished imports, page by page; a dry run deletes nothing', async () => {
    const T = uniqueAsOf();
    const daysAgo = (n: number) => new Date(T.getTime() - n * 86_400_000).toISOString();
    const { sql: q } = database;
    const [token] = await q<{ id: string }[]>`
      INSERT INTO api_tokens (name, token_hash, scope) VALUES ('prune test', md5(random()::text), 'write') RETURNING id::text`;
    const key = (name: string, age: number) => ({
      tokenId: Number(token!.id),
      key: name,
      requestHash: 'h',
      status: 201,
      response: {},
      createdAt: new Date(daysAgo(age)),
    });
    // Keys sorting around each other and with characters a naive checkpoint would split on.
    const oldKeys = ['a', 'a:b', 'a,b', '"q"', 'b', 'c d', 'z', 'zz'];
    await database.db
      .insert(apiIdempotencyKeys)
      .values([...oldKeys.map((k) => key(k, 120)), key('recent', 10), key('edge', 89)]);

    // Imports: two finished long ago (members and bookings, several pages each), one finished lately, and
    // one staged long ago that never ran (it may still be imported: kept).
    const stage = async (
      kind: 'members' | 'bookings',
      rows: number,
      status: string,
      importedDaysAgo: number | null,
    ) => {
      const [row] = await q<{ id: string }[]>`
        INSERT INTO imports (kind, file_name, column_count, row_count, status, imported_at, created_at)
        VALUES (${kind}, ${`${kind}.csv`}, 2, ${rows}, ${status}, ${importedDaysAgo === null ? null : daysAgo(importedDaysAgo)},
                ${daysAgo(200)})
        RETURNING id::text`;
      const table = kind === 'members' ? 'import_member_rows' : 'import_booking_rows';
      await q.unsafe(
        `INSERT INTO ${table} (import_id, line, field_count, external_id)
         SELECT $1::bigint, g, 2, 'x' || g FROM generate_series(2, $2::int + 1) g`,
        [row!.id, rows],
      );
      return row!.id;
    };
    const oldMembers = await stage('members', 7, 'IMPORTED', 100);
    const oldBookings = await stage('bookings', 5, 'IMPORTED', 95);
    const recentImport = await stage('members', 3, 'IMPORTED', 5);
    const neverImported = await stage('bookings', 2, 'STAGED', null);
    // Imported long ago, and being imported again right now (`--rerun`): kept, rows and all.
    const importingAgain = await stage('members', 4, 'IMPORTED', 150);
    await database.db.insert(jobRuns).values({
      id: '00000000-0000-7000-8000-0000000000a1',
      workflowId: `import-members-again-${importingAgain}`,
      job: 'import-members',
      asOf: T,
      params: { importId: Number(importingAgain) },
      status: 'RUNNING',
      startedAt: T,
    });
    // An instance that failed long ago and is running again (a restart continues from the failed run's
    // step records): the failed run is kept.
    await database.db.insert(jobRuns).values([
      {
        id: '00000000-0000-7000-8000-0000000000a2',
        workflowId: 'pass-lifecycle-restarted',
        job: 'pass-lifecycle',
        asOf: new Date(daysAgo(200)),
        status: 'FAILED',
        startedAt: new Date(daysAgo(200)),
        endedAt: new Date(daysAgo(200)),
      },
      {
        id: '00000000-0000-7000-8000-0000000000a3',
        workflowId: 'pass-lifecycle-restarted',
        job: 'pass-lifecycle',
        asOf: new Date(daysAgo(200)),
        status: 'RUNNING',
        startedAt: T,
      },
    ]);
    const counts = async () => {
      const [row] = await q<{ keys: number; members: number; bookings: number; imports: string[] }[]>`
        SELECT (SELECT count(*) FROM api_idempotency_keys WHERE token_id = ${token!.id})::int AS keys,
               (SELECT count(*) FROM import_member_rows)::int AS members,
               (SELECT count(*) FROM import_booking_rows)::int AS bookings,
               (SELECT array_agg(id::text ORDER BY id) FROM imports) AS imports`;
      return row!;
    };
    const before = await counts();
    expect(before).toEqual({
      keys: 10,
      members: 14,
      bookings: 7,
      imports: [oldMembers, oldBookings, recentImport, neverImported, importingAgain],
    });

    inProcess = await temporal.startWorker({
      db: database.db,
      paramDefaults: { 'prune-run-records': { retentionDays: 90 } },
    });
    const settings = {
      steps: {
        'idempotency-keys': { chunkSize: 3 },
        'import-rows': { chunkSize: 4 },
        imports: { chunkSize: 1 },
      },
    };
    const run = (dryRun: boolean) =>
      launchJob(
        { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
        { job: 'prune-run-records', asOf: T, wait: true, dryRun, settings },
      );
    const step = (result: JobResult, name: string) => result.steps.find((s) => s.step === name);

    const dry = await run(true);
    if (dry.outcome !== 'completed') throw new Error(dry.outcome);
    expect(await counts()).toEqual(before);
    expect(step(dry.result, 'idempotency-keys')).toMatchObject({ read: 8, written: 8 });
    expect(step(dry.result, 'import-rows')).toMatchObject({ read: 12, written: 12 });
    expect(step(dry.result, 'imports')).toMatchObject({ read: 2, written: 2 });

    const real = await run(false);
    if (real.outcome !== 'completed') throw new Error(real.outcome);
    expect(step(real.result, 'idempotency-keys')).toMatchObject({ read: 8, written: 8 });
    expect(step(real.result, 'idempotency-keys')!.chunks).toBeGreaterThanOrEqual(3);
    expect(step(real.result, 'import-rows')).toMatchObject({ read: 12, written: 12 });
    expect(step(real.result, 'import-rows')!.chunks).toBeGreaterThanOrEqual(3);
    expect(step(real.result, 'imports')).toMatchObject({ read: 2, written: 2 });
    expect(await counts()).toEqual({
      keys: 2,
      members: 7,
      bookings: 2,
      imports: [recentImport, neverImported, importingAgain],
    });
    expect((await getJobRun(database.db, '00000000-0000-7000-8000-0000000000a2'))?.run.status).toBe('FAILED');
    const keysLeft = await q<
      { key: string }[]
    >`SELECT key FROM api_idempotency_keys WHERE token_id = ${token!.id} ORDER BY key`;
    expect(keysLeft.map((r) => r.key)).toEqual(['edge', 'recent']);

    // Again as of a moment later: nothing that old is left, so no step schedules an activity.
    const again = await launchJob(
      { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
      { job: 'prune-run-records', asOf: new Date(T.getTime() + 1000), wait: true },
    );
    if (again.outcome !== 'completed') throw new Error(again.outcome);
    expect(again.result.steps.map((s) => [s.step, s.partitions, s.read])).toEqual([
      ['prune', 0, 0],
      ['idempotency-keys', 0, 0],
      ['import-rows', 0, 0],
      ['imports', 0, 0],
    ]);
    await inProcess.stop();
    inProcess = undefined;
  });
});
