import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run-cli.ts';
import { bulkPasses, passes, userGroupMembers, userGroups } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedGroup, seedPackage, seedUser } from './helpers/seed.ts';
import {
  connectTemporal,
  type RunningWorker,
  type TemporalTestContext,
  temporalAddress,
} from './helpers/temporal.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
let worker: RunningWorker;

beforeAll(async () => {
  database = await createTestDatabase('bulk_grant');
  temporal = await connectTemporal('bulk-grant');
  worker = await temporal.startWorker({ db: database.db });
});
afterAll(async () => {
  await worker?.stop();
  await temporal?.close();
  await database?.drop();
});

async function grant(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['grant', ...args], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_TASK_QUEUE: temporal.taskQueue,
      BUSINESS_TIMEZONE: 'Asia/Seoul',
    },
  });
  return { code, stdout, stderr };
}

/** Row counts of every table: "nothing written" means all of them are unchanged. */
async function tableCounts(): Promise<Record<string, number>> {
  const tables = await database.db.execute<{ name: string }>(sql`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`);
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM ${sql.identifier(name)}`,
    );
    counts[name] = row!.n;
  }
  return counts;
}

async function passesOf(bulkPassId: number) {
  return database.db.select().from(passes).where(eq(passes.bulkPassId, bulkPassId)).orderBy(passes.userId);
}

async function bulkPass(id: number) {
  const [row] = await database.db.select().from(bulkPasses).where(eq(bulkPasses.id, id));
  return row!;
}

describe('ptpass grant', () => {
  it('rejects each bad grant with one line naming the problem, exit 2, and writes nothing', async () => {
    const db = database.db;
    const pkg = await seedPackage(db, 10, 30);
    const unlimited = await seedPackage(db, null, 30);
    const active = await seedUser(db, 'Active');
    const lapsed = await seedUser(db, 'Lapsed', 'INACTIVE');
    const group = String(await seedGroup(db, [active, lapsed]));
    const empty = String(await seedGroup(db, []));
    const allLapsed = String(await seedGroup(db, [lapsed]));
    const P = String(pkg);

    const cases: Array<[string[], RegExp]> = [
      [['--group', group], /--package is required/],
      [['--package', P], /give --group <id> or --users/],
      [['--package', P, '--group', group, '--users', String(active)], /--group or --users, not both/],
      [['--package', '999999', '--group', group], /package 999999 does not exist/],
      [['--package', 'abc', '--group', group], /--package 'abc' is not an ID/],
      [['--package', P, '--group', '999999'], /group 999999 does not exist/],
      [['--package', P, '--group', empty], new RegExp(`group ${empty} has no members`)],
      [['--package', P, '--group', allLapsed], new RegExp(`group ${allLapsed} has no ACTIVE members`)],
      [['--package', P, '--users', `${active},999998,999999`], /no such users: 999998, 999999/],
      [['--package', P, '--users', `${active},x`], /user 'x' is not an ID/],
      [['--package', P, '--users', ','], /--users lists no users/],
      [['--package', P, '--users', `${active},${lapsed}`], new RegExp(`user ${lapsed} is INACTIVE`)],
      [
        ['--package', P, '--group', group, '--count', '0'],
        /--count must be a whole number from 1 to 2147483647/,
      ],
      [
        ['--package', P, '--group', group, '--count=-3'],
        /--count must be a whole number from 1 to 2147483647/,
      ],
      [
        ['--package', P, '--group', group, '--count', '2.5'],
        /--count must be a whole number from 1 to 2147483647 \(got '2.5'\)/,
      ],
      [
        ['--package', String(unlimited), '--group', group, '--count', '5'],
        new RegExp(`package ${unlimited} has unlimited sessions; --count cannot be given`),
      ],
      [
        ['--package', P, '--group', group, '--start', '2030-01-10T10:00', '--end', '2030-01-10T10:00'],
        /^ptpass grant: --end 2030-01-10 10:00:00 \(Asia\/Seoul\) is not after the start 2030-01-10 10:00:00 \(Asia\/Seoul\)$/m,
      ],
      [
        ['--package', P, '--group', group, '--start', '2030-01-10', '--end', '2030-01-09T10:00'],
        /--start '2030-01-10' is not an ISO-8601 time/,
      ],
      [
        ['--package', P, '--group', group, '--start', '2030-01-10T10:00', '--end', '2030-01-09T10:00'],
        /is not after the start/,
      ],
      [
        ['--package', P, '--group', group, '--start', '2019-01-01T00:00Z', '--end', '2020-01-01T00:00Z'],
        /--end 2020-01-01 09:00:00 \(Asia\/Seoul\) has already passed/,
      ],
      // The same when the end comes from the package's period (30 days here): passes over before issued.
      [
        ['--package', P, '--group', group, '--start', '2019-01-01T00:00Z'],
        /the passes would end at 2019-01-31 09:00:00 \(Asia\/Seoul\) \(the start plus package \d+'s 30 days\), which is before they would be issued; give a later --start or an --end/,
      ],
      [['--package', P, '--group', group, '--at', '2030-02-30T10:00'], /--at '2030-02-30T10:00' is not/],
      [['--package', P, '--group', group, '--at', 'tomorrow'], /--at 'tomorrow' is not an ISO-8601/],
      [['--package', P, '--group', group, '--bogus'], /Unknown option '--bogus'/],
      // A grant for later is issued by a workflow that sleeps until then: there is nothing to wait for.
      [
        ['--package', P, '--group', group, '--at', '2031-05-05T10:00', '--wait'],
        /^ptpass grant: the grant would be issued at 2031-05-05 10:00:00 \(Asia\/Seoul\), so there is nothing to wait for now; leave out --wait and follow it with the command it prints$/m,
      ],
    ];

    const before = await tableCounts();
    for (const [args, message] of cases) {
      const out = await grant(...args);
      expect({ args, code: out.code }).toEqual({ args, code: 2 });
      expect(out.stderr).toMatch(message);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(await tableCounts()).toEqual(before);
    }
    // --json reports the same problem as JSON on stdout.
    const json = await grant('--package', '999999', '--group', group, '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({ error: 'package 999999 does not exist' });
    expect(await tableCounts()).toEqual(before);
  });

  it('grants to a group at once: every ACTIVE member gets one pass, INACTIVE ones are counted', async () => {
    const db = database.db;
    const pkg = await seedPackage(db, 10, 30);
    const members = [await seedUser(db, 'M1'), await seedUser(db, 'M2'), await seedUser(db, 'M3')];
    const lapsed = await seedUser(db, 'Lapsed', 'INACTIVE');
    const group = await seedGroup(db, [...members, lapsed]);

    const out = await grant(
      '--package',
      String(pkg),
      '--group',
      String(group),
      '--count',
      '4',
      '--start',
      '2030-03-01T09:00',
      '--end',
      '2030-04-01T00:00+09:00',
      '--wait',
      '--json',
    );
    expect(out.stderr).toContain('issuing, waiting');
    expect(out.code).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result).toMatchObject({
      outcome: 'issued',
      groupId: group,
      adHocGroup: false,
      packageId: pkg,
      count: 4,
      startedAt: '2030-03-01T00:00:00.000Z',
      endedAt: '2030-03-31T15:00:00.000Z',
      activeMembers: 3,
      inactiveMembers: 1,
      issued: 3,
      skippedInactive: 1,
      members: 4,
    });
    expect(result.run.workflowId).toMatch(new RegExp(`^issue-bulk-passes-.*-bulk-${result.bulkPassId}$`));

    const issued = await passesOf(result.bulkPassId);
    expect(issued.map((p) => [p.userId, p.remainingCount, p.startedAt.toISOString()])).toEqual(
      members.map((m) => [m, 4, '2030-03-01T00:00:00.000Z']),
    );
    expect(await bulkPass(result.bulkPassId)).toMatchObject({
      status: 'COMPLETED',
      issuedCount: 3,
      skippedCount: 1,
    });

    // The person-readable form says how many passes went to how many members.
    const text = await grant('--package', String(pkg), '--group', String(group), '--wait');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('issued 3 passes to 3 of 4 members (1 INACTIVE skipped)');
  });

  it('grants to listed users through a group made for them, and without --wait starts the issuance', async () => {
    const db = database.db;
    const pkg = await seedPackage(db, null, null);
    const a = await seedUser(db, 'A');
    const b = await seedUser(db, 'B');

    const out = await grant('--package', String(pkg), '--users', `${b},${a},${b}`, '--json');
    expect(out.code).toBe(0);
    const started = JSON.parse(out.stdout);
    expect(started).toMatchObject({ outcome: 'started', adHocGroup: true, activeMembers: 2, count: null });
    const groupMembers = await db
      .select({ userId: userGroupMembers.userId })
      .from(userGroupMembers)
      .where(eq(userGroupMembers.groupId, started.groupId))
      .orderBy(userGroupMembers.userId);
    expect(groupMembers.map((m) => m.userId)).toEqual([a, b]);

    const result = (await temporal.client.workflow.getHandle(started.run.workflowId).result()) as JobResult;
    expect(result.steps.map((s) => [s.step, s.written])).toEqual([
      ['issue', 2],
      ['complete', 1],
    ]);
    const issued = await passesOf(started.bulkPassId);
    expect(issued.map((p) => [p.userId, p.remainingCount, p.endedAt])).toEqual([
      [a, null, null],
      [b, null, null],
    ]);
    // A grant for now is live the moment it is issued, not at the next pass-lifecycle run.
    expect(issued.map((p) => p.status)).toEqual(['PROGRESSED', 'PROGRESSED']);
    // The group it made is named in business time (Asia/Seoul, as every page shows times).
    const [group] = await db.select().from(userGroups).where(eq(userGroups.id, started.groupId));
    expect(group!.name).toMatch(
      /^grant of package \d+ to 2 users at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(Asia\/Seoul\)$/m,
    );
    const issueAt = new Date(started.issueAt);
    const seoul = new Date(issueAt.getTime() + 9 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    expect(group!.name).toContain(`at ${seoul} (Asia/Seoul)`);
  });

  it('a grant for now with --wait: every pass is PROGRESSED right after issuance', async () => {
    const db = database.db;
    const pkg = await seedPackage(db, 8, 30);
    const member = await seedUser(db, 'Now');
    const out = await grant('--package', String(pkg), '--users', String(member), '--wait', '--json');
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout);
    const issued = await passesOf(result.bulkPassId);
    expect(issued.map((p) => [p.userId, p.status, p.remainingCount])).toEqual([[member, 'PROGRESSED', 8]]);
  });

  it('with a future --at starts a workflow that waits for that time', async () => {
    const db = database.db;
    const pkg = await seedPackage(db, 5, 7);
    const member = await seedUser(db, 'Member');
    const group = await seedGroup(db, [member]);

    const out = await grant('--package', String(pkg), '--group', String(group), '--at', '2031-05-05T10:00');
    expect(out.code).toBe(0);
    const [, bulkPassId] = /^bulk pass (\d+):/.exec(out.stdout)!;
    const workflowId = `issue-bulk-passes-2031-05-05T01:00:00Z-bulk-${bulkPassId}`;
    expect(out.stdout).toContain(
      `waiting until 2031-05-05 10:00:00 (Asia/Seoul): workflow ${workflowId} issues it then`,
    );
    const handle = temporal.client.workflow.getHandle(workflowId);
    // The run it records at the issue time is the workflow's run: the command to follow it.
    const { runId } = await handle.describe();
    expect(out.stdout).toContain(`follow it from then: ptpass runs show ${runId}\n`);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test over');
    const [row] = await db.select().from(bulkPasses).where(eq(bulkPasses.groupId, group));
    expect(row).toMatchObject({ status: 'READY', issueAt: new Date('2031-05-05T01:00:00Z') });
    expect(row!.startedAt).toEqual(new Date('2031-05-05T01:00:00Z'));
    expect(await passesOf(row!.id)).toEqual([]);
  });
});
