import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { insertClosure } from '../src/db/queries/closures.ts';
import { addHold } from '../src/db/queries/holds.ts';
import { stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { addDays, businessDayOf, zonedTimeToInstant } from '../src/time.ts';
import { ptpass } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedBooking, seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { connectTemporal, type TemporalTestContext, temporalAddress } from './helpers/temporal.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

const ZONE = 'Asia/Seoul';
let database: TestDatabase;
let temporal: TemporalTestContext;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('crash_closure');
  temporal = await connectTemporal('crash-closure');
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await temporal?.close();
  await database?.drop();
});

it('a closure run whose worker is SIGKILLed mid-way extends every active pass exactly once; a re-run extends nothing more', async () => {
  const db = database.db;
  const day0 = businessDayOf(uniqueAsOf(), ZONE);
  const at = (plusDays: number, hour = 10) => {
    const [y, m, d] = addDays(day0, plusDays).split('-').map(Number) as [number, number, number];
    return zonedTimeToInstant({ year: y, month: m, day: d, hour, minute: 0, second: 0 }, ZONE);
  };
  const user = await seedUser(db);
  const pkg = await seedPackage(db, 10, 30);
  // The studio closes on days 10..12 (three days).
  const from = addDays(day0, 10);
  const to = addDays(day0, 12);

  // 6,000 passes running through the closure: each is owed 3 days.
  await db.execute(sql`
    INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at)
    SELECT ${user}, ${pkg}, 'PROGRESSED', 5, ${at(0).toISOString()}::timestamptz, ${at(30).toISOString()}::timestamptz
    FROM generate_series(1, 6000)`);
  const special = {
    // Ends on day 11 at 10:00: days 10 and 11 fall within it.
    endsInside: await seedPass(db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      startedAt: at(0),
      endedAt: at(11),
    }),
    // Starts on day 12: one closed day.
    startsInside: await seedPass(db, { userId: user, packageId: pkg, startedAt: at(12, 9), endedAt: at(42) }),
    // On hold days 9..10: day 10 already moved its end, so it is owed days 11 and 12 only.
    held: await seedPass(db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      startedAt: at(0),
      endedAt: at(30),
    }),
    endsBefore: await seedPass(db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      startedAt: at(0),
      endedAt: at(10, 0),
    }),
    startsAfter: await seedPass(db, { userId: user, packageId: pkg, startedAt: at(13, 0), endedAt: at(40) }),
    expired: await seedPass(db, {
      userId: user,
      packageId: pkg,
      status: 'EXPIRED',
      startedAt: at(0),
      endedAt: at(30),
    }),
    unlimited: await seedPass(db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: null,
      startedAt: at(0),
      endedAt: null,
    }),
  };
  const hold = await addHold(
    db,
    {
      passId: special.held,
      startsOn: addDays(day0, 9),
      endsOn: addDays(day0, 10),
      reason: 'hold',
      createdBy: 'test',
    },
    ZONE,
  );
  expect(hold.ok).toBe(true);
  const ends = async () =>
    new Map(
      (
        await db.execute<{ id: number; ended_at: string | null }>(
          sql`SELECT id, ended_at::text FROM passes ORDER BY id`,
        )
      ).map((r) => [Number(r.id), r.ended_at === null ? null : new Date(r.ended_at).getTime()]),
    );
  const before = await ends();
  const closure = await insertClosure(db, {
    startsOn: from,
    endsOn: to,
    reason: 'renovation',
    createdBy: 'test',
  });
  if (!closure.ok) throw new Error(closure.problem);

  const first = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
  workers.push(first);
  const deps = { client: temporal.client, db, taskQueue: temporal.taskQueue };
  const launched = await launchJob(deps, {
    job: 'apply-closure',
    params: { closureId: closure.id },
    // Small, throttled chunks give the kill a wide window; a short heartbeat timeout a quick retry.
    settings: { heartbeatTimeoutSeconds: 3, steps: { extend: { chunkSize: 100, pauseMs: 30 } } },
  });
  expect(launched.outcome).toBe('started');
  await waitFor(async () => {
    const [row] = await db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, launched.runId), eq(stepRuns.step, 'extend')));
    return row && row.chunks >= 5 ? row : undefined;
  }, 'the extend step to commit a few chunks');
  first.kill('SIGKILL');
  expect((await first.exited).signal).toBe('SIGKILL');
  const [atKill] = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM closure_extensions`);
  expect(atKill!.n).toBeGreaterThan(0);
  expect(atKill!.n).toBeLessThan(6003);

  const second = await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue });
  workers.push(second);
  const result = (await temporal.client.workflow.getHandle(launched.workflowId).result()) as JobResult;
  expect(result.steps.find((s) => s.step === 'extend')).toMatchObject({ written: 6003, skipped: 0 });

  const DAY = 86_400_000;
  const expectedDays = (id: number) =>
    id === special.endsInside
      ? 2
      : id === special.startsInside
        ? 1
        : id === special.held
          ? 2
          : Object.values(special).includes(id)
            ? 0
            : 3;
  const check = async () => {
    const after = await ends();
    for (const [id, end] of after) {
      const was = before.get(id)!;
      expect({ id, moved: end === null ? null : (end - was!) / DAY }).toEqual({
        id,
        moved: was === null ? null : expectedDays(id),
      });
    }
    const [rows] = await db.execute<{ n: number; days: number }>(
      sql`SELECT count(*)::int AS n, sum(days)::int AS days FROM closure_extensions WHERE closure_id = ${closure.id}`,
    );
    expect(rows).toEqual({ n: 6003, days: 6000 * 3 + 2 + 1 + 2 });
  };
  await check();

  // A re-run (and the CLI's bookings list) changes nothing.
  const rerun = await launchJob(deps, {
    job: 'apply-closure',
    params: { closureId: closure.id },
    asOf: new Date(Date.now() - 120_000),
    wait: true,
  });
  expect(rerun.outcome).toBe('completed');
  if (rerun.outcome === 'completed') expect(rerun.result.written).toBe(0);
  await check();

  // Bookings inside the closure are listed for the studio to cancel (cancelled ones and those outside are not).
  const inside = await seedBooking(db, { userId: user, passId: special.held, startedAt: at(11, 19) });
  await seedBooking(db, { userId: user, startedAt: at(11, 20), status: 'CANCELLED' });
  await seedBooking(db, { userId: user, startedAt: at(13, 0) });
  const cliEnv = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: temporal.taskQueue,
    BUSINESS_TIMEZONE: ZONE,
  };
  const listed = await ptpass(['closures', 'bookings', String(closure.id), '--json'], cliEnv);
  expect(listed.code, listed.stderr).toBe(0);
  expect(listed.json<Array<{ id: number }>>().map((b) => b.id)).toEqual([inside]);
  const list = await ptpass(['closures', 'list', '--json'], cliEnv);
  expect(list.json()).toEqual([
    expect.objectContaining({
      id: closure.id,
      passesExtended: 6003,
      bookingsInside: 1,
      reason: 'renovation',
    }),
  ]);

  // The CLI: an overlapping closure is refused (exit 2, one line, nothing written); another is applied.
  const overlapping = await ptpass(
    ['closures', 'add', '--from', to, '--to', addDays(day0, 14), '--reason', 'x'],
    cliEnv,
  );
  expect(overlapping.code).toBe(2);
  expect(overlapping.stderr.trim()).toMatch(/^ptpass closures add: the studio is already closed from/);
  for (const [args, message] of [
    [['--from', 'x', '--to', to, '--reason', 'r'], /--from 'x' is not a calendar day/],
    [['--from', to, '--to', from, '--reason', 'r'], /--to .* is before --from/],
    [['--from', addDays(day0, 20), '--to', addDays(day0, 20)], /--reason is required/],
  ] as Array<[string[], RegExp]>) {
    const out = await ptpass(['closures', 'add', ...args], cliEnv);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(message);
  }
  const [count] = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM studio_closures`);
  expect(count!.n).toBe(1);
  const added = await ptpass(
    [
      'closures',
      'add',
      '--from',
      addDays(day0, 20),
      '--to',
      addDays(day0, 20),
      '--reason',
      '추석',
      '--wait',
      '--json',
    ],
    cliEnv,
  );
  expect(added.code, added.stderr).toBe(0);
  // Day 20: the 6,000 passes and the three others running then (held, startsInside, startsAfter).
  expect(added.json()).toMatchObject({ reason: '추석', passesExtended: 6003 });

  second.kill('SIGTERM');
  expect((await second.exited).code).toBe(0);
});
