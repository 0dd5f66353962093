import { asc, eq, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { LaunchError, type LaunchRequest, launchJob } from '../src/client/launch-job.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { bookings, jobRuns, passes, stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { seedBooking, seedStudio } from './helpers/seed-bookings.ts';
import { waitFor } from './helpers/worker-process.ts';

let T: Date;
const hours = (n: number) => new Date(T.getTime() + n * 3_600_000);

const env = useJobTestEnvironment('deduct');

beforeEach(async () => {
  T = uniqueAsOf();
  await startWorker();
  await env.database.db.execute(
    sql`TRUNCATE bookings, passes, job_runs, users, packages RESTART IDENTITY CASCADE`,
  );
});

async function startWorker(paramDefaults?: Record<string, Record<string, unknown>>) {
  await env.restartWorker({ paramDefaults });
}

const deps = () => env.launchDeps();

async function run(request: Omit<LaunchRequest, 'job' | 'wait'> = {}): Promise<{
  runId: string;
  result: JobResult;
}> {
  const launched = await launchJob(deps(), { job: 'deduct-sessions', asOf: T, wait: true, ...request });
  if (launched.outcome !== 'completed') throw new Error(`unexpected ${launched.outcome}`);
  return { runId: launched.runId, result: launched.result };
}

const stepOf = (result: JobResult, name: string) => result.steps.find((s) => s.step === name)!;

async function passRow(id: number) {
  const [row] = await env.database.db.select().from(passes).where(eq(passes.id, id));
  return row!;
}

async function bookingState(id: number) {
  const [row] = await env.database.db.select().from(bookings).where(eq(bookings.id, id));
  return { status: row!.status, usedPass: row!.usedPass };
}

const untouched = { status: 'READY', usedPass: false };
const deducted = { status: 'COMPLETED', usedPass: true };

async function snapshot() {
  return {
    passes: await env.database.db.select().from(passes).orderBy(asc(passes.id)),
    bookings: await env.database.db.select().from(bookings).orderBy(asc(bookings.id)),
  };
}

describe('deduct-sessions', () => {
  it('deducts every ended booking once, several per pass, leaving future classes alone', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const unlimitedPkg = await seedPackage(env.database.db, null, null);
    const pass = (remainingCount: number | null, extra: Partial<Parameters<typeof seedPass>[1]> = {}) =>
      seedPass(env.database.db, {
        userId: user,
        packageId: remainingCount === null ? unlimitedPkg : pkg,
        status: 'PROGRESSED',
        remainingCount,
        startedAt: hours(-500),
        endedAt: hours(500),
        ...extra,
      });
    const booking = (passId: number | null, start: number, extra: { end?: number } = {}) =>
      seedBooking(env.database.db, {
        userId: user,
        passId,
        startedAt: hours(start),
        endedAt: hours(extra.end ?? start + 1),
      });

    const five = await pass(5);
    const fivePast = [
      await booking(five, -30),
      await booking(five, -20),
      await booking(five, -1, { end: 0 }),
    ];
    const fiveFuture = [await booking(five, -0.5, { end: 0.5 }), await booking(five, 20)];
    const two = await pass(2);
    const twoPast = [await booking(two, -10), await booking(two, -5)];
    const unlimited = await pass(null, { endedAt: null });
    const unlimitedPast = [await booking(unlimited, -10), await booking(unlimited, -5)];
    const one = await pass(1);
    const onePast = [await booking(one, -9), await booking(one, -8), await booking(one, -7)];
    // Expired by the lifecycle job after the class took place: the class still uses its session.
    const expiredLater = await pass(3, { status: 'EXPIRED', endedAt: hours(-2), expiredAt: hours(-2) });
    const expiredLaterBooking = await booking(expiredLater, -6);
    const cancelled = await seedBooking(env.database.db, {
      userId: user,
      passId: five,
      startedAt: hours(-40),
      status: 'CANCELLED',
    });
    const alreadyUsed = await seedBooking(env.database.db, {
      userId: user,
      passId: five,
      startedAt: hours(-50),
      status: 'COMPLETED',
      usedPass: true,
    });

    const { runId, result } = await run();

    expect(await passRow(five)).toMatchObject({ remainingCount: 2, status: 'PROGRESSED', expiredAt: null });
    for (const id of fivePast) expect(await bookingState(id)).toEqual(deducted);
    for (const id of fiveFuture) expect(await bookingState(id)).toEqual(untouched);
    expect(await bookingState(cancelled)).toEqual({ status: 'CANCELLED', usedPass: false });
    expect(await bookingState(alreadyUsed)).toEqual(deducted);

    // A pass that reaches 0 expires at T in the same transaction.
    expect(await passRow(two)).toMatchObject({ remainingCount: 0, status: 'EXPIRED', expiredAt: T });
    for (const id of twoPast) expect(await bookingState(id)).toEqual(deducted);

    // Unlimited passes: the booking is used, there is nothing to count down.
    expect(await passRow(unlimited)).toMatchObject({ remainingCount: null, status: 'PROGRESSED' });
    for (const id of unlimitedPast) expect(await bookingState(id)).toEqual(deducted);

    // Three ended classes on a pass with one session: the first booking takes it, the others are skipped.
    expect(await passRow(one)).toMatchObject({ remainingCount: 0, status: 'EXPIRED', expiredAt: T });
    expect(await bookingState(onePast[0]!)).toEqual(deducted);
    expect(await bookingState(onePast[1]!)).toEqual(untouched);
    expect(await bookingState(onePast[2]!)).toEqual(untouched);

    // Already EXPIRED passes keep their own expiry time.
    expect(await passRow(expiredLater)).toMatchObject({
      remainingCount: 2,
      status: 'EXPIRED',
      expiredAt: hours(-2),
    });
    expect(await bookingState(expiredLaterBooking)).toEqual(deducted);

    const deduct = stepOf(result, 'deduct');
    expect(deduct).toMatchObject({ read: 11, written: 9, skipped: 2, chunks: 1 });
    expect(stepOf(result, 'no-shows')).toMatchObject({ read: 0, written: 0 });
    const record = await getJobRun(env.database.db, runId);
    expect(record?.skips).toEqual([
      { step: 'deduct', partition: 0, key: String(onePast[1]), reason: 'no-sessions-left' },
      { step: 'deduct', partition: 0, key: String(onePast[2]), reason: 'no-sessions-left' },
    ]);
  });

  it('gives the same result whatever the chunk size: bookings take sessions in booking order', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const passIds = [];
    for (let i = 0; i < 3; i++) {
      passIds.push(
        await seedPass(env.database.db, {
          userId: user,
          packageId: pkg,
          status: 'PROGRESSED',
          remainingCount: 2,
          startedAt: hours(-500),
          endedAt: hours(500),
        }),
      );
    }
    // Four ended classes per pass, interleaved across passes so each pass spans several 2-row chunks.
    const byPass = new Map<number, number[]>();
    for (let round = 0; round < 4; round++) {
      for (const passId of passIds) {
        const id = await seedBooking(env.database.db, {
          userId: user,
          passId,
          startedAt: hours(-10 + round),
        });
        byPass.set(passId, [...(byPass.get(passId) ?? []), id]);
      }
    }

    const { runId, result } = await run({ settings: { steps: { deduct: { chunkSize: 2 } } } });
    expect(stepOf(result, 'deduct')).toMatchObject({ read: 12, written: 6, skipped: 6, chunks: 7 });
    const skipped: string[] = [];
    for (const passId of passIds) {
      expect(await passRow(passId)).toMatchObject({ remainingCount: 0, status: 'EXPIRED', expiredAt: T });
      const [a, b, c, d] = byPass.get(passId)!;
      expect([await bookingState(a!), await bookingState(b!)]).toEqual([deducted, deducted]);
      expect([await bookingState(c!), await bookingState(d!)]).toEqual([untouched, untouched]);
      skipped.push(String(c), String(d));
    }
    const record = await getJobRun(env.database.db, runId);
    expect(record?.skips.map((s) => [s.key, s.reason])).toEqual(
      skipped.sort().map((key) => [key, 'no-sessions-left']),
    );
  });

  it('skips bookings whose pass is missing, expired before the class or used up, and goes on', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const base = { userId: user, packageId: pkg, startedAt: hours(-500) };
    const endedBeforeClass = await seedPass(env.database.db, {
      ...base,
      status: 'PROGRESSED',
      remainingCount: 4,
      endedAt: hours(-10),
    });
    const expiredBeforeClass = await seedPass(env.database.db, {
      ...base,
      status: 'EXPIRED',
      remainingCount: 4,
      endedAt: hours(500),
      expiredAt: hours(-10),
    });
    const usedUp = await seedPass(env.database.db, {
      ...base,
      status: 'PROGRESSED',
      remainingCount: 0,
      endedAt: hours(500),
    });
    const fine = await seedPass(env.database.db, {
      ...base,
      status: 'READY',
      remainingCount: 4,
      endedAt: hours(500),
    });
    const booking = (passId: number | null) =>
      seedBooking(env.database.db, { userId: user, passId, startedAt: hours(-5) });
    const missing = await booking(null);
    const onEnded = await booking(endedBeforeClass);
    const onExpired = await booking(expiredBeforeClass);
    const onUsedUp = await booking(usedUp);
    const ok = await booking(fine);
    const before = await snapshot();

    const { runId, result } = await run();
    expect(result).toMatchObject({ read: 5, written: 1, skipped: 4 });
    const record = await getJobRun(env.database.db, runId);
    expect(record?.run).toMatchObject({ status: 'COMPLETED', skipCount: 4, writeCount: 1 });
    expect(record?.skips.map((s) => [s.key, s.reason])).toEqual([
      [String(missing), 'pass-missing'],
      [String(onEnded), 'pass-expired'],
      [String(onExpired), 'pass-expired'],
      [String(onUsedUp), 'no-sessions-left'],
    ]);
    expect(await bookingState(ok)).toEqual(deducted);
    expect(await passRow(fine)).toMatchObject({ remainingCount: 3, status: 'READY' });
    // Skipped bookings and their passes are exactly as they were.
    const after = await snapshot();
    for (const id of [missing, onEnded, onExpired, onUsedUp]) {
      expect(after.bookings.find((b) => b.id === id)).toEqual(before.bookings.find((b) => b.id === id));
    }
    for (const id of [endedBeforeClass, expiredBeforeClass, usedUp]) {
      expect(after.passes.find((p) => p.id === id)).toEqual(before.passes.find((p) => p.id === id));
    }

    // Over the skip limit the job fails, naming the limit; what it deducted before stays deducted once.
    // The four bookings skipped above are known bad data and no longer count: four new bad ones do.
    await env.database.db
      .update(bookings)
      .set({ usedPass: false, status: 'READY' })
      .where(eq(bookings.id, ok));
    for (const h of [-6, -5, -4, -3]) {
      await seedBooking(env.database.db, { userId: user, passId: null, startedAt: hours(h) });
    }
    await expect(
      launchJob(deps(), {
        job: 'deduct-sessions',
        asOf: hours(1),
        wait: true,
        settings: { steps: { deduct: { skipLimit: 3 } } },
      }),
    ).rejects.toThrow();
    const [failed] = await env.database.db.select().from(jobRuns).where(eq(jobRuns.status, 'FAILED'));
    expect(failed?.error).toMatch(/4 items skipped, over the limit of 3/);
    expect(await passRow(fine)).toMatchObject({ remainingCount: 2 });
  });

  it('a re-run changes nothing', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const p = await seedPass(env.database.db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: 2,
      startedAt: hours(-500),
      endedAt: hours(500),
    });
    for (const start of [-9, -8, -7, 3]) {
      await seedBooking(env.database.db, { userId: user, passId: p, startedAt: hours(start) });
    }
    await seedBooking(env.database.db, { userId: user, passId: null, startedAt: hours(-3) });
    const first = await run();
    expect(first.result).toMatchObject({ written: 2, skipped: 2 });
    const before = await snapshot();

    const again = await launchJob(deps(), { job: 'deduct-sessions', asOf: T, wait: true });
    expect(again.outcome).toBe('already-completed');
    const rerun = await run({ rerun: true });
    expect(rerun.runId).not.toBe(first.runId);
    expect(rerun.result).toMatchObject({ read: 2, written: 0, skipped: 2 });
    expect(await snapshot()).toEqual(before);
    // The problems are still there, so the re-run reports them again.
    expect((await getJobRun(env.database.db, rerun.runId))?.skips.map((s) => s.reason)).toEqual([
      'no-sessions-left',
      'pass-missing',
    ]);
  });

  it('does not deduct a booking cancelled after the job read it but before it wrote', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const p = await seedPass(env.database.db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: 1,
      startedAt: hours(-500),
      endedAt: hours(500),
    });
    // The first booking would take the pass's last session; it is cancelled while the job waits for it.
    const racing = await seedBooking(env.database.db, { userId: user, passId: p, startedAt: hours(-5) });
    const other = await seedBooking(env.database.db, { userId: user, passId: p, startedAt: hours(-4) });

    const member = await env.database.sql.reserve();
    try {
      await member`BEGIN`;
      await member`SELECT id FROM bookings WHERE id = ${racing} FOR UPDATE`;
      const [{ pid }] = await member<[{ pid: number }]>`SELECT pg_backend_pid() AS pid`;

      const launched = await launchJob(deps(), { job: 'deduct-sessions', asOf: T });
      // The chunk has read the page (the booking was due then) and now waits for the booking's row lock.
      await waitFor(async () => {
        const rows = await env.database.db.execute<{ pid: number }>(
          sql`SELECT pid FROM pg_stat_activity WHERE ${pid}::int = ANY(pg_blocking_pids(pid))`,
        );
        return rows.length > 0;
      }, 'the chunk to wait for the booking row lock');
      await member`UPDATE bookings SET status = 'CANCELLED', cancelled_at = now() WHERE id = ${racing}`;
      await member`COMMIT`;

      const result = (await env.temporal.client.workflow
        .getHandle(launched.workflowId)
        .result()) as JobResult;
      expect(stepOf(result, 'deduct')).toMatchObject({ read: 2, written: 1, skipped: 0 });
    } finally {
      member.release();
    }
    expect(await bookingState(racing)).toEqual({ status: 'CANCELLED', usedPass: false });
    // The session went to the booking that still happened.
    expect(await bookingState(other)).toEqual(deducted);
    expect(await passRow(p)).toMatchObject({ remainingCount: 0, status: 'EXPIRED', expiredAt: T });
  });

  describe('no-show policy', () => {
    async function seedNoShows() {
      const user = await seedUser(env.database.db);
      const pkg = await seedPackage(env.database.db);
      const p = await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        status: 'PROGRESSED',
        remainingCount: 5,
        startedAt: hours(-500),
        endedAt: hours(500),
      });
      const booking = (start: number, attended: boolean) =>
        seedBooking(env.database.db, { userId: user, passId: p, startedAt: hours(start), attended });
      return {
        pass: p,
        attended: [await booking(-9, true), await booking(-8, true)],
        noShows: [await booking(-7, false), await booking(-6, false), await booking(-5, false)],
        futureNoShow: await booking(5, false),
      };
    }

    it('by default a no-show uses its session', async () => {
      const s = await seedNoShows();
      const { result } = await run();
      expect(stepOf(result, 'deduct')).toMatchObject({ read: 5, written: 5, skipped: 0 });
      expect(stepOf(result, 'no-shows')).toMatchObject({ read: 0, written: 0 });
      for (const id of [...s.attended, ...s.noShows]) expect(await bookingState(id)).toEqual(deducted);
      expect(await bookingState(s.futureNoShow)).toEqual(untouched);
      expect(await passRow(s.pass)).toMatchObject({ remainingCount: 0, status: 'EXPIRED' });
    });

    it('with keep, no-shows are left untouched and counted, without tripping the skip limit', async () => {
      const s = await seedNoShows();
      const { runId, result } = await run({
        params: { noShow: 'keep' },
        settings: { steps: { deduct: { skipLimit: 0 }, 'no-shows': { skipLimit: 0, chunkSize: 2 } } },
      });
      expect(stepOf(result, 'deduct')).toMatchObject({ read: 2, written: 2, skipped: 0 });
      expect(stepOf(result, 'no-shows')).toMatchObject({ read: 3, written: 0, skipped: 0, chunks: 2 });
      for (const id of s.attended) expect(await bookingState(id)).toEqual(deducted);
      for (const id of [...s.noShows, s.futureNoShow]) expect(await bookingState(id)).toEqual(untouched);
      expect(await passRow(s.pass)).toMatchObject({ remainingCount: 3, status: 'PROGRESSED' });
      const record = await getJobRun(env.database.db, runId);
      expect(record?.run.params).toEqual({ noShow: 'keep' });
      expect(record?.skips).toEqual([]);
    });

    it('a late cancel costs its session under either policy and stays CANCELLED; an early cancel costs nothing', async () => {
      for (const noShow of ['deduct', 'keep'] as const) {
        T = uniqueAsOf();
        await env.database.db.execute(
          sql`TRUNCATE bookings, passes, users, packages RESTART IDENTITY CASCADE`,
        );
        const user = await seedUser(env.database.db);
        const pkg = await seedPackage(env.database.db);
        const p = await seedPass(env.database.db, {
          userId: user,
          packageId: pkg,
          status: 'PROGRESSED',
          remainingCount: 5,
          startedAt: hours(-500),
          endedAt: hours(500),
        });
        const cancel = async (start: number, late: boolean) => {
          const id = await seedBooking(env.database.db, {
            userId: user,
            passId: p,
            startedAt: hours(start),
            status: 'CANCELLED',
          });
          await env.database.db.update(bookings).set({ lateCancel: late }).where(eq(bookings.id, id));
          return id;
        };
        const late = await cancel(-5, true);
        const early = await cancel(-4, false);
        const lateFuture = await cancel(5, true);
        const { result } = await run({ params: { noShow } });
        expect(stepOf(result, 'deduct'), noShow).toMatchObject({ read: 1, written: 1, skipped: 0 });
        expect(await bookingState(late), noShow).toEqual({ status: 'CANCELLED', usedPass: true });
        expect(await bookingState(early), noShow).toEqual({ status: 'CANCELLED', usedPass: false });
        expect(await bookingState(lateFuture), noShow).toEqual({ status: 'CANCELLED', usedPass: false });
        expect(await passRow(p), noShow).toMatchObject({ remainingCount: 4 });
        // A re-run charges it no second time.
        const again = await run({ params: { noShow }, rerun: true });
        expect(stepOf(again.result, 'deduct'), noShow).toMatchObject({ read: 0, written: 0 });
        expect(await passRow(p), noShow).toMatchObject({ remainingCount: 4 });
      }
    });

    it("the worker's NO_SHOW_POLICY is the default, and a run's parameter overrides it", async () => {
      await startWorker({ 'deduct-sessions': { noShow: 'keep' } });
      const s = await seedNoShows();
      const kept = await run();
      expect(stepOf(kept.result, 'no-shows')).toMatchObject({ read: 3 });
      for (const id of s.noShows) expect(await bookingState(id)).toEqual(untouched);

      const overridden = await run({ asOf: hours(1), params: { noShow: 'deduct' } });
      expect(stepOf(overridden.result, 'deduct')).toMatchObject({ written: 3 });
      for (const id of s.noShows) expect(await bookingState(id)).toEqual(deducted);
      expect(await passRow(s.pass)).toMatchObject({ remainingCount: 0, status: 'EXPIRED' });
    });

    it('a bad policy is refused before anything is started or written', async () => {
      await seedNoShows();
      const before = await snapshot();
      await expect(
        launchJob(deps(), { job: 'deduct-sessions', asOf: T, params: { noShow: 'sometimes' } }),
      ).rejects.toThrow(LaunchError);
      await expect(
        launchJob(deps(), { job: 'deduct-sessions', asOf: T, params: { noShow: 'sometimes' } }),
      ).rejects.toThrow(/params.noShow: must be 'deduct' or 'keep'/);
      expect(() => loadConfig({ NO_SHOW_POLICY: 'sometimes' })).toThrow(ConfigError);
      expect(() => loadConfig({ NO_SHOW_POLICY: 'sometimes' })).toThrow(
        /NO_SHOW_POLICY must be 'deduct' or 'keep' \(got 'sometimes'\)/,
      );
      expect(loadConfig({}).noShowPolicy).toBe('deduct');
      expect(await env.database.db.$count(jobRuns)).toBe(0);
      expect(await env.database.db.$count(stepRuns)).toBe(0);
      expect(await snapshot()).toEqual(before);
    });
  });

  it('partitions that share passes never over-deduct: each pass gives min(sessions, due bookings)', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const seeded = await seedStudio(env.database.db, {
      userId: user,
      packageId: pkg,
      asOf: T,
      passCount: 40,
      bookingsPerPass: 10,
    });
    const before = await env.database.db.execute<{ id: number; remaining: number | null; due: number }>(sql`
      SELECT p.id::int, p.remaining_count AS remaining,
             count(b.id) FILTER (WHERE b.status <> 'CANCELLED' AND b.ended_at <= ${T.toISOString()}::timestamptz)::int AS due
      FROM passes p LEFT JOIN bookings b ON b.pass_id = p.id GROUP BY p.id ORDER BY p.id`);

    const { result } = await run({
      settings: { steps: { deduct: { partitions: 3, chunkSize: 7, skipLimit: 10_000 } } },
    });
    const deduct = stepOf(result, 'deduct');
    expect(deduct.partitions).toBe(3);
    expect(deduct.read).toBe(seeded.due);

    const after = await env.database.db.execute<{ id: number; remaining: number | null; used: number }>(sql`
      SELECT p.id::int, p.remaining_count AS remaining, count(b.id) FILTER (WHERE b.used_pass)::int AS used
      FROM passes p LEFT JOIN bookings b ON b.pass_id = p.id GROUP BY p.id ORDER BY p.id`);
    expect(after.map((r) => ({ ...r }))).toEqual(
      before.map((p) => ({
        id: p.id,
        remaining: p.remaining === null ? null : Math.max(p.remaining - p.due, 0),
        used: p.remaining === null ? p.due : Math.min(p.remaining, p.due),
      })),
    );
    expect(deduct.written).toBe(after.reduce((n, r) => n + r.used, 0));
    expect(deduct.skipped).toBe(seeded.due - deduct.written);
  });

  it('a dry run counts what would change and writes nothing', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const p = await seedPass(env.database.db, {
      userId: user,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: 2,
      startedAt: hours(-500),
      endedAt: hours(500),
    });
    for (const start of [-9, -8, -7])
      await seedBooking(env.database.db, { userId: user, passId: p, startedAt: hours(start) });
    const before = await snapshot();
    const dry = await run({ dryRun: true });
    expect(dry.result).toMatchObject({ dryRun: true, read: 3, written: 2, skipped: 1 });
    expect(await snapshot()).toEqual(before);
  });
});
