import { eq, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { completeBulkPassesChunk, issueBulkPassesChunk } from '../src/db/queries/bulk-passes.ts';
import { bulkPasses, passes } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import {
  seedBulkPass,
  seedGroup,
  seedLargeGroup,
  seedPackage,
  seedUser,
  uniqueAsOf,
} from './helpers/seed.ts';

let T: Date;
const hours = (n: number) => new Date(T.getTime() + n * 3_600_000);
const DAY = 86_400_000;

const env = useJobTestEnvironment('bulk-issue');

beforeEach(async () => {
  T = uniqueAsOf();
  await env.restartWorker();
  // Identities keep counting: a bulk pass ID is never reused, as in production.
  await env.database.db.execute(
    sql`TRUNCATE passes, bulk_passes, user_group_members, user_groups, job_runs, users, packages CASCADE`,
  );
});

const deps = () => env.launchDeps();

async function passesOf(bulkPassId: number) {
  return env.database.db
    .select()
    .from(passes)
    .where(eq(passes.bulkPassId, bulkPassId))
    .orderBy(passes.userId);
}

async function bulkPass(id: number) {
  const [row] = await env.database.db.select().from(bulkPasses).where(eq(bulkPasses.id, id));
  return row!;
}

async function run(
  asOf: Date,
  extra: { rerun?: boolean; chunkSize?: number; partitions?: number } = {},
): Promise<JobResult> {
  const issue = {
    ...(extra.chunkSize ? { chunkSize: extra.chunkSize } : {}),
    ...(extra.partitions ? { partitions: extra.partitions } : {}),
  };
  const outcome = await launchJob(deps(), {
    job: 'issue-bulk-passes',
    asOf,
    wait: true,
    rerun: extra.rerun,
    settings: Object.keys(issue).length ? { steps: { issue } } : {},
  });
  if (!('result' in outcome)) throw new Error(`unexpected outcome ${outcome.outcome}`);
  return outcome.result;
}

describe('issue-bulk-passes', () => {
  it('issues overdue bulk passes, leaves future ones, and gives each ACTIVE member exactly one pass', async () => {
    const db = env.database.db;
    const a1 = await seedUser(db, 'A1');
    const a2 = await seedUser(db, 'A2');
    const a3 = await seedUser(db, 'A3');
    const lapsed = await seedUser(db, 'Lapsed', 'INACTIVE');
    const group = await seedGroup(db, [a1, a2, lapsed, a3]);
    const tenFor30 = await seedPackage(db, 10, 30);
    const unlimited = await seedPackage(db, null, null);

    const ids = {
      // The worker was down for three days: still issued, with the package's count and period.
      overdue: await seedBulkPass(db, { packageId: tenFor30, groupId: group, startedAt: hours(-72) }),
      // Due exactly at T, with its own count and end.
      atT: await seedBulkPass(db, {
        packageId: tenFor30,
        groupId: group,
        startedAt: T,
        count: 3,
        endedAt: hours(24),
      }),
      // Issued an hour ago for passes that begin next week.
      issuedEarly: await seedBulkPass(db, {
        packageId: tenFor30,
        groupId: group,
        startedAt: hours(24 * 7),
        issueAt: hours(-1),
      }),
      unlimited: await seedBulkPass(db, { packageId: unlimited, groupId: group, startedAt: hours(-1) }),
      // Not yet: one second after T.
      future: await seedBulkPass(db, {
        packageId: tenFor30,
        groupId: group,
        startedAt: new Date(T.getTime() + 1000),
      }),
      futureIssue: await seedBulkPass(db, {
        packageId: tenFor30,
        groupId: group,
        startedAt: hours(-1),
        issueAt: hours(1),
      }),
    };

    // Chunks of 2 make every page straddle bulk passes and groups: the composite keyset must hold.
    const result = await run(T, { chunkSize: 2 });
    const issue = result.steps.find((s) => s.step === 'issue')!;
    const complete = result.steps.find((s) => s.step === 'complete')!;
    expect(issue).toMatchObject({ read: 16, written: 12, skipped: 0 });
    expect(complete).toMatchObject({ read: 4, written: 4 });

    const overdue = await passesOf(ids.overdue);
    expect(overdue.map((p) => p.userId)).toEqual([a1, a2, a3]);
    for (const p of overdue) {
      // Its start has come: issued live, not left READY for the next pass-lifecycle run.
      expect(p).toMatchObject({ packageId: tenFor30, status: 'PROGRESSED', remainingCount: 10 });
      expect(p.startedAt).toEqual(hours(-72));
      expect(p.endedAt).toEqual(new Date(hours(-72).getTime() + 30 * DAY));
    }
    const atT = await passesOf(ids.atT);
    expect(atT.map((p) => [p.userId, p.remainingCount, p.startedAt, p.endedAt])).toEqual(
      [a1, a2, a3].map((u) => [u, 3, T, hours(24)]),
    );
    expect(atT.map((p) => p.status)).toEqual(['PROGRESSED', 'PROGRESSED', 'PROGRESSED']);
    const early = await passesOf(ids.issuedEarly);
    expect(early.map((p) => [p.userId, p.startedAt, p.status])).toEqual(
      [a1, a2, a3].map((u) => [u, hours(24 * 7), 'READY']),
    );
    const open = await passesOf(ids.unlimited);
    expect(open.map((p) => [p.userId, p.remainingCount, p.endedAt])).toEqual(
      [a1, a2, a3].map((u) => [u, null, null]),
    );

    for (const id of [ids.overdue, ids.atT, ids.issuedEarly, ids.unlimited]) {
      expect(await bulkPass(id)).toMatchObject({ status: 'COMPLETED', issuedCount: 3, skippedCount: 1 });
    }
    for (const id of [ids.future, ids.futureIssue]) {
      expect(await bulkPass(id)).toMatchObject({ status: 'READY', issuedCount: 0, completedAt: null });
      expect(await passesOf(id)).toEqual([]);
    }

    // A re-run of the same instance issues nothing more.
    const again = await run(T, { rerun: true });
    expect(again.written).toBe(0);
    const [total] = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM passes`);
    expect(total?.n).toBe(12);

    // A second later the future one is due.
    await run(new Date(T.getTime() + 1000));
    expect((await passesOf(ids.future)).map((p) => p.userId)).toEqual([a1, a2, a3]);
    expect(await bulkPass(ids.future)).toMatchObject({
      status: 'COMPLETED',
      issuedCount: 3,
      skippedCount: 1,
    });
    expect(await bulkPass(ids.futureIssue)).toMatchObject({ status: 'READY' });
  });

  it('skips INACTIVE members by the hundred without tripping the skip limit, and counts them', async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db, 5, 10);
    // 600 members, every 4th INACTIVE: 150 skipped, over the default skip limit of 100.
    const { groupId, active, inactive } = await seedLargeGroup(db, { count: 600, inactiveEvery: 4 });
    const id = await seedBulkPass(db, { packageId: pkg, groupId, startedAt: hours(-2) });

    const result = await run(T, { chunkSize: 64 });
    expect(result.steps.find((s) => s.step === 'issue')).toMatchObject({
      read: 600,
      written: active,
      skipped: 0,
    });
    expect(await bulkPass(id)).toMatchObject({
      status: 'COMPLETED',
      issuedCount: active,
      skippedCount: inactive,
    });
    const rows = await db.execute<{ status: string; passes: number }>(sql`
      SELECT u.status, count(p.id)::int AS passes
      FROM user_group_members gm JOIN users u ON u.id = gm.user_id
      LEFT JOIN passes p ON p.user_id = u.id AND p.bulk_pass_id = ${id}
      WHERE gm.group_id = ${groupId} GROUP BY u.status ORDER BY u.status`);
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { status: 'ACTIVE', passes: active },
      { status: 'INACTIVE', passes: 0 },
    ]);
  });

  it('completes a bulk pass only when none of its ACTIVE members lacks a pass', async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db);
    const member = await seedUser(db, 'Member');
    const group = await seedGroup(db, [member]);
    const id = await seedBulkPass(db, { packageId: pkg, groupId: group, startedAt: hours(-1) });

    // The complete step on its own (as if a member joined after the issue step): the guard holds it back.
    const held = await completeBulkPassesChunk(db, { asOf: T, after: null, limit: 10 });
    expect(held).toMatchObject({ read: 1, written: 0 });
    expect(await bulkPass(id)).toMatchObject({ status: 'READY', issuedCount: 0 });

    await run(T);
    expect(await bulkPass(id)).toMatchObject({ status: 'COMPLETED', issuedCount: 1, skippedCount: 0 });
  });

  it('treats a COMPLETED bulk pass as final: a member reactivated later gets nothing', async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db);
    const first = await seedUser(db, 'First');
    const returning = await seedUser(db, 'Returning', 'INACTIVE');
    const group = await seedGroup(db, [first, returning]);
    const id = await seedBulkPass(db, { packageId: pkg, groupId: group, startedAt: hours(-1) });

    await run(T);
    expect(await bulkPass(id)).toMatchObject({ status: 'COMPLETED', issuedCount: 1, skippedCount: 1 });
    await db.execute(sql`UPDATE users SET status = 'ACTIVE' WHERE id = ${returning}`);
    await run(new Date(T.getTime() + 60_000));
    expect((await passesOf(id)).map((p) => p.userId)).toEqual([first]);
  });

  it('splits into key-range partitions over members: overlapping groups, one pass per ACTIVE member each', async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db, 6, 30);
    const a = await seedLargeGroup(db, { count: 900, inactiveEvery: 9 });
    const b = await seedLargeGroup(db, { count: 300 });
    // A third bulk pass for the members of both groups at once (pairs interleave in member order).
    const members = await db.execute<{ user_id: number }>(
      sql`SELECT user_id FROM user_group_members WHERE group_id IN (${a.groupId}, ${b.groupId}) ORDER BY 1`,
    );
    const both = await seedGroup(
      db,
      members.map((m) => Number(m.user_id)),
    );
    const ids = [
      await seedBulkPass(db, { packageId: pkg, groupId: a.groupId, startedAt: hours(-2) }),
      await seedBulkPass(db, { packageId: pkg, groupId: b.groupId, startedAt: hours(-1) }),
      await seedBulkPass(db, { packageId: pkg, groupId: both, startedAt: hours(-1) }),
    ];

    const result = await run(T, { partitions: 4, chunkSize: 97 });
    const issue = result.steps.find((s) => s.step === 'issue')!;
    expect(issue.partitions).toBe(4);
    expect(issue).toMatchObject({ read: 2400, written: 2 * (a.active + b.active) });
    expect(await bulkPass(ids[0]!)).toMatchObject({
      status: 'COMPLETED',
      issuedCount: a.active,
      skippedCount: 100,
    });
    expect(await bulkPass(ids[1]!)).toMatchObject({
      status: 'COMPLETED',
      issuedCount: b.active,
      skippedCount: 0,
    });
    expect(await bulkPass(ids[2]!)).toMatchObject({
      status: 'COMPLETED',
      issuedCount: a.active + b.active,
      skippedCount: 100,
    });
    const [dupes] = await db.execute<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM (SELECT 1 FROM passes GROUP BY bulk_pass_id, user_id HAVING count(*) > 1) d`);
    expect(dupes?.n).toBe(0);
  });

  it('a checkpoint of the earlier bulk-pass-first order restarts the step and issues nothing twice', async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db, 6, 30);
    const { groupId, active } = await seedLargeGroup(db, { count: 50 });
    const id = await seedBulkPass(db, { packageId: pkg, groupId, startedAt: hours(-1) });
    const page = (after: string | null) =>
      db.transaction((tx) =>
        issueBulkPassesChunk(tx, { asOf: T, after, limit: 20, bulkPassId: id, timeZone: 'Asia/Seoul' }),
      );
    const first = await page(null);
    expect(first).toMatchObject({ read: 20, written: 20 });
    expect(first.lastKey).toMatch(new RegExp(`^\\d+/${id}$`));
    // An old-format checkpoint reads from the start again: the first 20 are found issued.
    expect(await page(`${id}:${first.lastKey!.split('/')[0]}`)).toMatchObject({ read: 20, written: 0 });
    expect(await page(first.lastKey)).toMatchObject({ read: 20, written: 20 });
    expect((await passesOf(id)).length).toBe(Math.min(40, active));
  });

  it('issues a group of 100,000 members completely', { timeout: 180_000 }, async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db, 8, 60);
    const { groupId, active } = await seedLargeGroup(db, { count: 100_000, inactiveEvery: 50 });
    const id = await seedBulkPass(db, { packageId: pkg, groupId, startedAt: hours(-1) });

    const result = await run(T);
    expect(result.steps.find((s) => s.step === 'issue')).toMatchObject({
      read: 100_000,
      written: active,
      // 100,000 members in pages of the step's default 5,000, and one empty page to end.
      chunks: 21,
    });
    expect(await bulkPass(id)).toMatchObject({
      status: 'COMPLETED',
      issuedCount: active,
      skippedCount: 2000,
    });
    const [row] = await db.execute<{ passes: number; members: number }>(sql`
      SELECT count(*)::int AS passes, count(DISTINCT user_id)::int AS members
      FROM passes WHERE bulk_pass_id = ${id} AND remaining_count = 8`);
    expect({ ...row }).toEqual({ passes: active, members: active });
  });
});

describe('issue-bulk-passes in a zone with daylight saving', () => {
  it('ends a package period on the same wall-clock time N business days on, across the DST change', async () => {
    const user = await seedUser(env.database.db);
    const pkg = await seedPackage(env.database.db, 10, 30);
    const groupId = await seedGroup(env.database.db, [user]);
    // 2027-03-20 00:00 in Berlin (CET, +01:00); 30 days later is 2027-04-19 00:00 CEST (+02:00).
    const start = new Date('2027-03-19T23:00:00Z');
    const bulk = await seedBulkPass(env.database.db, {
      packageId: pkg,
      groupId,
      startedAt: start,
      issueAt: new Date('2027-03-01T00:00:00Z'),
    });
    await env.database.db.transaction((tx) =>
      issueBulkPassesChunk(tx, {
        asOf: new Date('2027-03-02T00:00:00Z'),
        after: null,
        limit: 10,
        bulkPassId: bulk,
        timeZone: 'Europe/Berlin',
      }),
    );
    const [issued] = await env.database.db.select().from(passes).where(eq(passes.bulkPassId, bulk));
    expect(issued?.endedAt?.toISOString()).toBe('2027-04-18T22:00:00.000Z');
  });
});
