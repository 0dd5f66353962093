import { eq, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { JobAlreadyRunningError, LaunchError, launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { jobRuns, passes, stepRuns } from '../src/db/schema.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedManyPasses, seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';

let T: Date;
const hours = (n: number) => new Date(T.getTime() + n * 3_600_000);

const env = useJobTestEnvironment('lifecycle');

beforeEach(async () => {
  T = uniqueAsOf();
  await env.restartWorker();
  await env.database.db.execute(sql`TRUNCATE passes, job_runs, users, packages RESTART IDENTITY CASCADE`);
});

const deps = () => env.launchDeps();

async function passRow(id: number) {
  const [row] = await env.database.db.select().from(passes).where(eq(passes.id, id));
  return row!;
}

describe('pass-lifecycle', () => {
  it('activates started passes and expires ended or used-up ones, exactly at the boundary', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const unlimitedPkg = await seedPackage(env.database.db, null, null);
    const ids = {
      readyStarted: await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        startedAt: hours(-5),
        endedAt: hours(100),
      }),
      readyAtT: await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        startedAt: T,
        endedAt: hours(100),
      }),
      readyFuture: await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        startedAt: hours(1),
        endedAt: hours(100),
      }),
      readyAlreadyOver: await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        startedAt: hours(-100),
        endedAt: hours(-1),
      }),
      endsAtT: await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        status: 'PROGRESSED',
        startedAt: hours(-100),
        endedAt: T,
      }),
      endsLater: await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        status: 'PROGRESSED',
        remainingCount: 3,
        startedAt: hours(-100),
        endedAt: hours(0.001),
      }),
      usedUp: await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        status: 'PROGRESSED',
        remainingCount: 0,
        startedAt: hours(-100),
        endedAt: hours(100),
      }),
      unlimited: await seedPass(env.database.db, {
        userId: user,
        packageId: unlimitedPkg,
        status: 'PROGRESSED',
        remainingCount: null,
        startedAt: hours(-100),
        endedAt: null,
      }),
      unlimitedReady: await seedPass(env.database.db, {
        userId: user,
        packageId: unlimitedPkg,
        remainingCount: null,
        startedAt: hours(-1),
        endedAt: null,
      }),
      alreadyExpired: await seedPass(env.database.db, {
        userId: user,
        packageId: pkg,
        status: 'EXPIRED',
        startedAt: hours(-100),
        endedAt: hours(-50),
        expiredAt: hours(-50),
      }),
    };

    const launched = await launchJob(deps(), { job: 'pass-lifecycle', asOf: T, wait: true });
    expect(launched.outcome).toBe('completed');

    const expectStatus = async (id: number, status: string, expiredAt: Date | null = null) => {
      const row = await passRow(id);
      expect({ status: row.status, expiredAt: row.expiredAt?.toISOString() ?? null }).toEqual({
        status,
        expiredAt: expiredAt?.toISOString() ?? null,
      });
    };
    await expectStatus(ids.readyStarted, 'PROGRESSED');
    await expectStatus(ids.readyAtT, 'PROGRESSED');
    await expectStatus(ids.readyFuture, 'READY');
    await expectStatus(ids.readyAlreadyOver, 'EXPIRED', T);
    await expectStatus(ids.endsAtT, 'EXPIRED', T);
    await expectStatus(ids.endsLater, 'PROGRESSED');
    await expectStatus(ids.usedUp, 'EXPIRED', T);
    await expectStatus(ids.unlimited, 'PROGRESSED');
    await expectStatus(ids.unlimitedReady, 'PROGRESSED');
    await expectStatus(ids.alreadyExpired, 'EXPIRED', hours(-50));

    if (launched.outcome !== 'completed') throw new Error('unreachable');
    const activate = launched.result.steps.find((s) => s.step === 'activate');
    const expire = launched.result.steps.find((s) => s.step === 'expire');
    expect(activate).toMatchObject({ read: 4, written: 4, skipped: 0 });
    expect(expire).toMatchObject({ read: 3, written: 3, skipped: 0 });

    // The run record carries the same counts as the workflow result.
    const record = await getJobRun(env.database.db, launched.runId);
    expect(record?.run).toMatchObject({
      status: 'COMPLETED',
      readCount: 7,
      writeCount: 7,
      skipCount: 0,
      job: 'pass-lifecycle',
    });
    expect(record?.run.asOf.toISOString()).toBe(T.toISOString());
    expect(record?.steps.map((s) => [s.step, s.status, s.writeCount])).toEqual([
      ['activate', 'COMPLETED', 4],
      ['expire', 'COMPLETED', 3],
    ]);

    // The Web UI shows the same counts through the memo.
    const description = await env.temporal.client.workflow
      .getHandle(launched.workflowId, launched.runId)
      .describe();
    const memo = (await description.memo) as { ptpass?: { written?: number; status?: string } } | undefined;
    expect(memo?.ptpass).toMatchObject({ written: 7, status: 'COMPLETED' });
  });

  it('processes every eligible row once across many chunks while updating the column it filters on', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    const { due } = await seedManyPasses(env.database.db, {
      count: 3000,
      userId: user,
      packageId: pkg,
      asOf: T,
      every: 3,
    });

    const launched = await launchJob(deps(), {
      job: 'pass-lifecycle',
      asOf: T,
      wait: true,
      settings: { steps: { expire: { chunkSize: 100 } } },
    });
    if (launched.outcome !== 'completed') throw new Error(`unexpected ${launched.outcome}`);
    const expire = launched.result.steps.find((s) => s.step === 'expire')!;
    // OFFSET paging would skip half the rows on every page here; keyset paging reads each once.
    expect(expire).toMatchObject({ read: due, written: due });
    expect(expire.chunks).toBe(Math.ceil(due / 100) + (due % 100 === 0 ? 1 : 0));
    const [left] = await env.database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM passes WHERE status = 'PROGRESSED' AND ended_at <= ${T.toISOString()}::timestamptz`,
    );
    expect(left?.n).toBe(0);
    const [expired] = await env.database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM passes WHERE status = 'EXPIRED' AND expired_at = ${T.toISOString()}::timestamptz`,
    );
    expect(expired?.n).toBe(due);
  });

  it('a dry run counts what would change and writes nothing', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    await seedManyPasses(env.database.db, { count: 500, userId: user, packageId: pkg, asOf: T, every: 5 });
    await seedPass(env.database.db, {
      userId: user,
      packageId: pkg,
      startedAt: hours(-1),
      endedAt: hours(10),
    });
    const before = await env.database.db.execute(
      sql`SELECT id, status, expired_at, modified_at FROM passes ORDER BY id`,
    );

    const dry = await launchJob(deps(), { job: 'pass-lifecycle', asOf: T, dryRun: true, wait: true });
    if (dry.outcome !== 'completed') throw new Error(`unexpected ${dry.outcome}`);
    expect(dry.result.dryRun).toBe(true);
    expect(dry.result.steps.map((s) => [s.step, s.written])).toEqual([
      ['activate', 1],
      ['expire', 100],
    ]);
    const after = await env.database.db.execute(
      sql`SELECT id, status, expired_at, modified_at FROM passes ORDER BY id`,
    );
    expect(after).toEqual(before);

    // The dry run is not the instance: the real run still happens and changes the same rows.
    const real = await launchJob(deps(), { job: 'pass-lifecycle', asOf: T, wait: true });
    if (real.outcome !== 'completed') throw new Error(`unexpected ${real.outcome}`);
    expect(real.result.steps.map((s) => [s.step, s.written])).toEqual([
      ['activate', 1],
      ['expire', 100],
    ]);
  });

  it('refuses a concurrent launch of a running instance and reports a completed one unless --rerun', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db);
    await seedManyPasses(env.database.db, { count: 400, userId: user, packageId: pkg, asOf: T, every: 2 });
    // Slow chunks keep the first run going while the second launch arrives.
    const settings = { steps: { expire: { chunkSize: 20, pauseMs: 50 } } };

    const first = await launchJob(deps(), { job: 'pass-lifecycle', asOf: T, settings });
    expect(first.outcome).toBe('started');
    await expect(launchJob(deps(), { job: 'pass-lifecycle', asOf: T, settings })).rejects.toThrow(
      JobAlreadyRunningError,
    );
    await expect(launchJob(deps(), { job: 'pass-lifecycle', asOf: T, settings })).rejects.toThrow(
      /already running/,
    );

    const result = await env.temporal.client.workflow.getHandle(first.workflowId).result();
    expect(result.written).toBe(200);

    const again = await launchJob(deps(), { job: 'pass-lifecycle', asOf: T, wait: true });
    expect(again.outcome).toBe('already-completed');
    if (again.outcome !== 'already-completed') throw new Error('unreachable');
    expect(again.runId).toBe(first.runId);
    expect(again.result.written).toBe(200);

    const rerun = await launchJob(deps(), { job: 'pass-lifecycle', asOf: T, rerun: true, wait: true });
    if (rerun.outcome !== 'completed') throw new Error(`unexpected ${rerun.outcome}`);
    expect(rerun.runId).not.toBe(first.runId);
    expect(rerun.result.written).toBe(0);
    const runs = await env.database.db.select().from(jobRuns).where(eq(jobRuns.workflowId, first.workflowId));
    expect(runs.map((r) => r.status).sort()).toEqual(['COMPLETED', 'COMPLETED']);
  });

  it('rejects bad parameters before anything is started or written', async () => {
    await expect(launchJob(deps(), { job: 'pass-lifecycle', asOf: new Date('not a date') })).rejects.toThrow(
      LaunchError,
    );
    await expect(launchJob(deps(), { job: 'no-such-job' })).rejects.toThrow(/unknown job 'no-such-job'/);
    await expect(
      launchJob(deps(), {
        job: 'pass-lifecycle',
        asOf: T,
        settings: { steps: { expire: { chunkSize: 0 } } },
      }),
    ).rejects.toThrow(/settings.steps.expire.chunkSize/);
    await expect(
      launchJob(deps(), { job: 'pass-lifecycle', asOf: T, params: { surprise: 1 } }),
    ).rejects.toThrow(/params/);
    expect(await env.database.db.$count(jobRuns)).toBe(0);
    expect(await env.database.db.$count(stepRuns)).toBe(0);
  });
});

describe('pass-lifecycle launch guards', () => {
  it('refuses a logical time in the future (except for a dry run) and writes nothing', async () => {
    const future = new Date(Date.now() + 3 * 86_400_000);
    await expect(launchJob(deps(), { job: 'pass-lifecycle', asOf: future })).rejects.toThrow(
      /is in the future/,
    );
    expect(await env.database.db.$count(jobRuns)).toBe(0);
    const preview = await launchJob(deps(), {
      job: 'pass-lifecycle',
      asOf: future,
      dryRun: true,
      wait: true,
    });
    expect(preview.outcome).toBe('completed');
  });
});
