import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run-cli.ts';
import { LaunchError, type LaunchOutcome, launchJob } from '../src/client/launch-job.ts';
import { readStatistics } from '../src/db/queries/statistics.ts';
import { bookings, packages, passes } from '../src/db/schema.ts';
import { formatInstant, type JobResult } from '../src/jobs/index.ts';
import { addDays, businessDayOf, startOfBusinessDay } from '../src/time.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import {
  dayFigures,
  type StatsRowSnapshot,
  seedBooking,
  seedBulkPass,
  seedStatsPass,
  seoul,
  statisticsRows,
  ZERO_FIGURES,
} from './helpers/statistics.ts';
import {
  connectTemporal,
  type RunningWorker,
  type TemporalTestContext,
  temporalAddress,
} from './helpers/temporal.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
let worker: RunningWorker | undefined;

beforeAll(async () => {
  database = await createTestDatabase('statistics');
  temporal = await connectTemporal('statistics');
  worker = await temporal.startWorker({ db: database.db, businessTimeZone: 'Asia/Seoul' });
});
afterAll(async () => {
  await worker?.stop();
  await temporal?.close();
  await database?.drop();
});
beforeEach(async () => {
  await database.db.execute(
    sql`TRUNCATE statistics, bookings, passes, bulk_passes, user_groups, job_runs, users, packages RESTART IDENTITY CASCADE`,
  );
});

const deps = () => ({ client: temporal.client, db: database.db, taskQueue: temporal.taskQueue });

/** Runs the job to completion; as-of is unique so every call is a new instance. */
async function runStatistics(params: Record<string, unknown>, asOf = uniqueAsOf()): Promise<JobResult> {
  const outcome: LaunchOutcome = await launchJob(deps(), { job: 'statistics', asOf, params, wait: true });
  if (outcome.outcome !== 'completed') throw new Error(`unexpected outcome ${outcome.outcome}`);
  return outcome.result;
}

/** `ptpass ...` in this process, against this file's database and task queue. */
async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
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

async function countRows(table: 'statistics' | 'job_runs'): Promise<number> {
  const [row] = await database.db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)}`,
  );
  return row!.n;
}

describe('statistics job', () => {
  it('splits days at midnight in the business time zone, not in UTC', async () => {
    const user = await seedUser(database.db);
    const lateEvening = seoul('2025-03-10 23:59:59');
    const midnight = seoul('2025-03-11 00:00:00');
    await seedBooking(database.db, { userId: user, startedAt: lateEvening, attended: true });
    await seedBooking(database.db, { userId: user, startedAt: midnight, attended: true });
    // The same two instants are one UTC day (2025-03-10, 14:59:59Z and 15:00:00Z).
    expect(businessDayOf(lateEvening, 'UTC')).toBe(businessDayOf(midnight, 'UTC'));

    const result = await runStatistics({ from: '2025-03-10', to: '2025-03-11' });

    expect(result.steps).toEqual([
      expect.objectContaining({ step: 'compute', read: 2, written: 2, skipped: 0 }),
    ]);
    expect(await dayFigures(database.db, '2025-03-10')).toEqual({
      ...ZERO_FIGURES,
      bookings: 1,
      attended: 1,
    });
    expect(await dayFigures(database.db, '2025-03-11')).toEqual({
      ...ZERO_FIGURES,
      bookings: 1,
      attended: 1,
    });
  });

  it("uses the worker's business time zone: with UTC the same two bookings are one day", async () => {
    const user = await seedUser(database.db);
    await seedBooking(database.db, { userId: user, startedAt: seoul('2025-03-10 23:59:59'), attended: true });
    await seedBooking(database.db, { userId: user, startedAt: seoul('2025-03-11 00:00:00'), attended: true });
    await worker?.stop();
    worker = await temporal.startWorker({ db: database.db, businessTimeZone: 'UTC' });
    try {
      await runStatistics({ from: '2025-03-10', to: '2025-03-11' });
    } finally {
      await worker.stop();
      worker = await temporal.startWorker({ db: database.db, businessTimeZone: 'Asia/Seoul' });
    }
    expect((await statisticsRows(database.db)).map((r) => [r.day, r.bookings])).toEqual([
      ['2025-03-10', 2],
      ['2025-03-11', 0],
    ]);
  });

  it('counts every figure of a day, in total and per package', async () => {
    const D = '2025-05-20';
    const user = await seedUser(database.db);
    const pkgA = await seedPackage(database.db, 10, 30);
    const pkgB = await seedPackage(database.db, null, null);
    const bulk = await seedBulkPass(database.db, {
      packageId: pkgA,
      count: 5,
      startedAt: seoul('2025-05-01 00:00'),
    });

    // Passes: issued, expired, active at day end, ending (utilisation inputs).
    const p1 = await seedStatsPass(database.db, {
      userId: user,
      packageId: pkgA,
      createdAt: seoul(`${D} 10:00`),
      startedAt: seoul(`${D} 10:00`),
      endedAt: seoul('2025-06-19 00:00'),
    }); // issued on D, active
    await seedStatsPass(database.db, {
      userId: user,
      packageId: pkgA,
      createdAt: seoul('2025-04-10 09:00'),
      startedAt: seoul('2025-04-10 09:00'),
      endedAt: seoul(`${D} 18:00`),
      expiredAt: seoul(`${D} 18:00`),
      remainingCount: 4,
    }); // ended and expired on D: sold 10, used 6
    await seedStatsPass(database.db, {
      userId: user,
      packageId: pkgA,
      createdAt: seoul('2025-05-10 09:00'),
      startedAt: seoul('2025-05-10 09:00'),
      endedAt: seoul('2025-06-09 00:00'),
      expiredAt: seoul(`${D} 12:00`),
      remainingCount: 0,
    }); // ran out on D: ends on D though its end date is later; sold 10, used 10
    const p4 = await seedStatsPass(database.db, {
      userId: user,
      packageId: pkgB,
      createdAt: seoul('2025-05-15 09:00'),
      startedAt: seoul('2025-05-15 09:00'),
      remainingCount: null,
    }); // unlimited, active; never "ending"
    await seedStatsPass(database.db, {
      userId: user,
      packageId: pkgA,
      createdAt: seoul(`${D} 09:00`),
      startedAt: seoul('2025-05-21 00:00'),
      endedAt: seoul('2025-06-20 00:00'),
    }); // issued on D, starts at the next day's first instant: not active at D's end
    await seedStatsPass(database.db, {
      userId: user,
      packageId: pkgA,
      bulkPassId: bulk,
      createdAt: seoul('2025-05-01 00:00'),
      startedAt: seoul('2025-05-01 00:00'),
      endedAt: seoul(`${D} 20:00`),
      remainingCount: 1,
    }); // bulk pass of 5 sessions ended on D, not yet expired by the lifecycle job: sold 5, used 4
    await seedStatsPass(database.db, {
      userId: user,
      packageId: pkgA,
      createdAt: seoul('2025-05-01 00:00'),
      startedAt: seoul('2025-05-01 00:00'),
      endedAt: seoul('2025-05-21 00:00'),
      remainingCount: 2,
    }); // ends at the first instant of the next day: active at D's end, ending on the 21st

    // Bookings of classes that start on D.
    const at = (time: string) => seoul(`${D} ${time}`);
    await seedBooking(database.db, {
      userId: user,
      passId: p1,
      startedAt: at('07:00'),
      attended: true,
      usedPass: true,
    });
    await seedBooking(database.db, { userId: user, passId: p1, startedAt: at('08:00'), usedPass: true }); // no-show
    await seedBooking(database.db, { userId: user, passId: p1, startedAt: at('09:00'), cancelled: true });
    await seedBooking(database.db, {
      userId: user,
      passId: p4,
      startedAt: at('10:00'),
      attended: true,
      usedPass: true,
    });
    await seedBooking(database.db, { userId: user, passId: null, startedAt: at('11:00'), attended: true });
    // A class that started on D and is still running at the run's as-of is neither attended nor a no-show.
    const asOf = at('23:30');
    await seedBooking(database.db, { userId: user, passId: p1, startedAt: at('23:00'), usedPass: false });
    // Outside D on both sides.
    await seedBooking(database.db, {
      userId: user,
      passId: p1,
      startedAt: seoul('2025-05-19 23:59:59'),
      attended: true,
    });

    await runStatistics({ day: D }, asOf);

    expect(await dayFigures(database.db, D)).toEqual({
      bookings: 5,
      attended: 3,
      no_shows: 1,
      cancelled: 1,
      sessions_deducted: 3,
      passes_issued: 2,
      passes_expired: 2,
      active_passes: 3,
      ending_passes: 3,
      ending_sessions_sold: 25,
      ending_sessions_used: 20,
    });
    expect(await dayFigures(database.db, D, pkgA)).toEqual({
      bookings: 3,
      attended: 1,
      no_shows: 1,
      cancelled: 1,
      sessions_deducted: 2,
      passes_issued: 2,
      passes_expired: 2,
      active_passes: 2,
      ending_passes: 3,
      ending_sessions_sold: 25,
      ending_sessions_used: 20,
    });
    expect(await dayFigures(database.db, D, pkgB)).toEqual({
      ...ZERO_FIGURES,
      bookings: 1,
      attended: 1,
      sessions_deducted: 1,
      active_passes: 1,
    });
    // Only the totals row and one row per package with activity; the booking without a pass is in the totals.
    expect((await statisticsRows(database.db)).length).toBe(3);
  });

  it('writes a zero row for an empty day', async () => {
    const result = await runStatistics({ day: '2024-02-29' });
    expect(result.written).toBe(1);
    expect(await statisticsRows(database.db)).toEqual([
      { day: '2024-02-29', package_id: null, ...ZERO_FIGURES },
    ]);
  });

  it('re-running a range leaves identical rows, and a re-run after a correction equals a clean run', async () => {
    const user = await seedUser(database.db);
    const pkg = await seedPackage(database.db);
    const pass = await seedStatsPass(database.db, {
      userId: user,
      packageId: pkg,
      createdAt: seoul('2025-07-01 10:00'),
      startedAt: seoul('2025-07-01 10:00'),
      endedAt: seoul('2025-07-08 10:00'),
      expiredAt: seoul('2025-07-08 10:00'),
      remainingCount: 3,
    });
    const booked: number[] = [];
    for (let day = 1; day <= 9; day++) {
      const date = `2025-07-0${day}`;
      booked.push(
        await seedBooking(database.db, {
          userId: user,
          passId: pass,
          startedAt: seoul(`${date} 19:00`),
          attended: day % 3 !== 0,
          usedPass: true,
        }),
      );
    }
    // A pass of a second package, issued by mistake on 07-03 and used once.
    const otherPkg = await seedPackage(database.db, 5, 30);
    const mistake = await seedStatsPass(database.db, {
      userId: user,
      packageId: otherPkg,
      createdAt: seoul('2025-07-03 09:00'),
      startedAt: seoul('2025-07-03 09:00'),
      endedAt: seoul('2025-07-05 09:00'),
    });
    await seedBooking(database.db, {
      userId: user,
      passId: mistake,
      startedAt: seoul('2025-07-03 12:00'),
      usedPass: true,
    });
    const range = { from: '2025-06-30', to: '2025-07-10' };

    const first = await runStatistics(range);
    const afterFirst = await statisticsRows(database.db, true);
    expect(first.read).toBe(11);
    expect(afterFirst.filter((r) => r.package_id === null).length).toBe(11);

    const second = await runStatistics(range);
    expect(second.read).toBe(11);
    expect(second.written).toBe(0);
    // Identical to the last column: nothing was rewritten, not even modified_at.
    expect(await statisticsRows(database.db, true)).toEqual(afterFirst);

    const otherRows = (rows: StatsRowSnapshot[]) => rows.filter((r) => r.package_id === otherPkg);
    // Issued and used on 07-03, active at the end of 07-03 and 07-04, ending on 07-05.
    expect(otherRows(afterFirst).map((r) => r.day)).toEqual(['2025-07-03', '2025-07-04', '2025-07-05']);

    // Corrections: the booking of 07-02 is cancelled after all, and the mistaken pass is deleted. Its package
    // has nothing left in the range, so its rows go; the totals rows take the new numbers.
    await database.db
      .update(bookings)
      .set({ status: 'CANCELLED', cancelledAt: seoul('2025-07-02 18:00'), usedPass: false, attended: false })
      .where(eq(bookings.id, booked[1]!));
    await database.db.delete(passes).where(eq(passes.id, mistake));
    const corrected = await runStatistics(range);
    expect(corrected.written).toBeGreaterThan(0);
    const afterCorrection = await statisticsRows(database.db);
    expect(otherRows(afterCorrection)).toEqual([]);

    await database.db.execute(sql`TRUNCATE statistics`);
    await runStatistics(range);
    expect(await statisticsRows(database.db)).toEqual(afterCorrection);
    expect(await dayFigures(database.db, '2025-07-02')).toMatchObject({ bookings: 0, cancelled: 1 });
  });

  it('a scheduled run (no params) computes the business day before its as-of', async () => {
    // 00:30-00:40 in Seoul on a random day: still the previous day in UTC.
    const T = uniqueAsOf();
    const today = businessDayOf(T, 'Asia/Seoul');
    const asOf = new Date(
      startOfBusinessDay(today, 'Asia/Seoul').getTime() + 1_800_000 + (T.getTime() % 600_000),
    );
    const yesterday = addDays(today, -1);
    expect(businessDayOf(asOf, 'UTC')).toBe(yesterday);
    const user = await seedUser(database.db);
    await seedBooking(database.db, { userId: user, startedAt: seoul(`${yesterday} 20:00`), attended: true });

    const outcome = await launchJob(deps(), { job: 'statistics', asOf, wait: true });

    // The plain instance ID, the one a Temporal Schedule gives the run at that nominal time.
    expect(outcome.workflowId).toBe(`statistics-${formatInstant(asOf)}`);
    expect((await statisticsRows(database.db)).map((r) => [r.day, r.bookings, r.attended])).toEqual([
      [yesterday, 1, 1],
    ]);
  });

  it('two days launched for the same as-of are two instances', async () => {
    const asOf = uniqueAsOf();
    const a = await launchJob(deps(), { job: 'statistics', asOf, params: { day: '2025-01-01' }, wait: true });
    const b = await launchJob(deps(), { job: 'statistics', asOf, params: { day: '2025-01-02' }, wait: true });
    expect([a.outcome, b.outcome]).toEqual(['completed', 'completed']);
    expect(a.workflowId).not.toBe(b.workflowId);
    expect((await statisticsRows(database.db)).map((r) => r.day)).toEqual(['2025-01-01', '2025-01-02']);
  });

  it('refuses bad parameters before starting anything', async () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ day: '2025-02-30' }, /params\.day: must be a calendar day YYYY-MM-DD/],
      [{ from: '2025-03-10', to: '2025-03-01' }, /params\.to: 2025-03-01 is before from \(2025-03-10\)/],
      [{ from: '2025-03-10' }, /params\.to: from and to go together/],
      [{ day: '2025-03-10', to: '2025-03-11' }, /params\.day: give either day or from and to/],
      [{ from: '2024-01-01', to: '2025-01-01' }, /longer than 366 days/],
      [{ week: '2025-W01' }, /unrecognized key/i],
    ];
    for (const [params, message] of bad) {
      const launch = launchJob(deps(), { job: 'statistics', asOf: uniqueAsOf(), params, wait: true });
      await expect(launch).rejects.toThrow(LaunchError);
      await expect(launch).rejects.toThrow(message);
    }
    expect(await countRows('statistics')).toBe(0);
    expect(await countRows('job_runs')).toBe(0);
  });
});

describe('ptpass job run statistics / stats show / stats export', () => {
  /** One attended booking a day over the week that spans New Year 2021 (ISO week 2020-W53), and a pass. */
  async function seedNewYearWeek() {
    const user = await seedUser(database.db);
    const pkg = await seedPackage(database.db);
    await database.db.update(packages).set({ name: 'PT 10, "premium"\nplan' }).where(eq(packages.id, pkg));
    const pass = await seedStatsPass(database.db, {
      userId: user,
      packageId: pkg,
      createdAt: seoul('2020-12-27 10:00'),
      startedAt: seoul('2020-12-27 10:00'),
      endedAt: seoul('2021-01-02 15:00'),
      expiredAt: seoul('2021-01-02 15:00'),
      remainingCount: 2,
    });
    const days = [
      '2020-12-28',
      '2020-12-29',
      '2020-12-30',
      '2020-12-31',
      '2021-01-01',
      '2021-01-02',
      '2021-01-03',
    ];
    for (const [i, day] of days.entries()) {
      await seedBooking(database.db, {
        userId: user,
        passId: i < 5 ? pass : null,
        startedAt: seoul(`${day} 23:30`),
        attended: i !== 3,
        usedPass: i < 5,
      });
    }
    return { pkg };
  }

  it('runs from the command line, then shows a week across New Year as one ISO week', async () => {
    await seedNewYearWeek();
    const asOf = uniqueAsOf().toISOString();
    const range = ['--from', '2020-12-28', '--to', '2021-01-03'];
    const run = await cli('job', 'run', 'statistics', ...range, '--as-of', asOf, '--wait', '--json');
    expect(run.code, run.stderr).toBe(0);
    const launched = JSON.parse(run.stdout) as { outcome: string; workflowId: string; result: JobResult };
    expect(launched.outcome).toBe('completed');
    expect(launched.workflowId).toMatch(/^statistics-.+-2020-12-28\.\.2021-01-03$/);
    expect(launched.result.read).toBe(7);

    const week = await cli(
      'stats',
      'show',
      '--from',
      '2020-12-28',
      '--to',
      '2021-01-03',
      '--period',
      'week',
      '--json',
    );
    expect(week.code, week.stderr).toBe(0);
    const shown = JSON.parse(week.stdout) as { rows: Array<Record<string, unknown>>; missingDays: string[] };
    expect(shown.missingDays).toEqual([]);
    expect(shown.rows).toEqual([
      expect.objectContaining({
        period: '2020-W53',
        firstDay: '2020-12-28',
        lastDay: '2021-01-03',
        days: 7,
        bookings: 7,
        attended: 6,
        noShows: 1,
        attendanceRate: 0.8571,
        sessionsDeducted: 5,
        passesExpired: 1,
        // A stock, not a flow: the count at the end of the last day (the pass expired on 01-02).
        activePasses: 0,
        endingPasses: 1,
        endingSessionsSold: 10,
        endingSessionsUsed: 8,
        utilisation: 0.8,
      }),
    ]);

    const month = await cli(
      'stats',
      'show',
      '--from',
      '2020-12-28',
      '--to',
      '2021-01-03',
      '--period',
      'month',
      '--json',
    );
    const months = (JSON.parse(month.stdout) as { rows: Array<Record<string, unknown>> }).rows;
    expect(months.map((r) => [r.period, r.days, r.bookings, r.activePasses])).toEqual([
      ['2020-12', 4, 4, 1],
      ['2021-01', 3, 3, 0],
    ]);

    // The table a person reads.
    const table = await cli(
      'stats',
      'show',
      '--from',
      '2020-12-28',
      '--to',
      '2021-01-03',
      '--period',
      'week',
    );
    expect(table.stdout).toMatch(/^week\s+days\s+bookings/);
    expect(table.stdout).toMatch(/2020-W53\s+7\s+7\s+6\s+1\s+85\.7%/);
  });

  it('exports RFC 4180 CSV that a CSV parser reads back with the same numbers', async () => {
    const { pkg } = await seedNewYearWeek();
    await runStatistics({ from: '2020-12-28', to: '2021-01-03' });
    const dir = await mkdtemp(join(tmpdir(), 'ptpass-stats-'));
    try {
      for (const [period, byPackage] of [
        ['day', false],
        ['week', false],
        ['month', true],
      ] as const) {
        const args = ['--from', '2020-12-20', '--to', '2021-01-03', '--period', period];
        if (byPackage) args.push('--by-package');
        const out = join(dir, `${period}.csv`);
        const toFile = await cli('stats', 'export', ...args, '--out', out);
        expect(toFile.code, toFile.stderr).toBe(0);
        // Days never computed are named, on stderr, so the CSV stays clean.
        expect(toFile.stderr).toMatch(/8 day\(s\) from 2020-12-20 to 2021-01-03 have no statistics yet/);
        const toStdout = await cli('stats', 'export', ...args);
        const text = await readFile(out, 'utf8');
        expect(toStdout.stdout).toBe(text);
        expect(text.endsWith('\r\n')).toBe(true);
        // A UTF-8 byte-order mark first, for Excel.
        expect(text.startsWith('\uFEFFperiod,')).toBe(true);

        const records = parse(text, { columns: true, bom: true }) as Array<Record<string, string>>;
        const expected = await readStatistics(database.db, {
          from: '2020-12-20',
          to: '2021-01-03',
          period,
          byPackage,
        });
        expect(records.length).toBe(expected.length);
        expect(records.length).toBeGreaterThan(0);
        for (const [i, record] of records.entries()) {
          const row = expected[i]!;
          expect(record).toMatchObject({
            period: row.period,
            first_day: row.firstDay,
            last_day: row.lastDay,
            days: String(row.days),
            package_id: row.packageId === null ? '' : String(row.packageId),
            package_name: row.packageName ?? '',
            bookings: String(row.bookings),
            attended: String(row.attended),
            no_shows: String(row.noShows),
            cancelled: String(row.cancelled),
            sessions_deducted: String(row.sessionsDeducted),
            passes_issued: String(row.passesIssued),
            passes_expired: String(row.passesExpired),
            active_passes: String(row.activePasses),
            ending_passes: String(row.endingPasses),
            ending_sessions_sold: String(row.endingSessionsSold),
            ending_sessions_used: String(row.endingSessionsUsed),
          });
        }
        if (byPackage) {
          // The name with a comma, quotes and a line break survives the round trip.
          expect(records.map((r) => [r.package_id, r.package_name])).toEqual([
            [String(pkg), 'PT 10, "premium"\nplan'],
            [String(pkg), 'PT 10, "premium"\nplan'],
          ]);
        }
      }
      const week = parse(await readFile(join(dir, 'week.csv'), 'utf8'), {
        columns: true,
        bom: true,
      }) as Array<Record<string, string>>;
      expect(week.map((r) => [r.period, r.days, r.bookings, r.attendance_rate, r.utilisation])).toEqual([
        ['2020-W53', '7', '7', '0.8571', '0.8'],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('CSV for Excel: a BOM and Korean names survive the round trip; formula-looking names are escaped; --no-bom omits the mark', async () => {
    const db = database.db;
    const day = '2021-02-01';
    const names = [
      '개인 PT 10회권',
      '=HYPERLINK("http://x","클릭")',
      '+82 요가',
      '-1 필라테스',
      '@SUM(A1)',
      '\t탭',
      '\r캐리지',
    ];
    const user = await seedUser(db);
    for (const name of names) {
      const [pkg] = await db.insert(packages).values({ name, sessionCount: 10, periodDays: 30 }).returning();
      const start = startOfBusinessDay(day, 'Asia/Seoul');
      const [pass] = await db
        .insert(passes)
        .values({
          userId: user,
          packageId: pkg!.id,
          status: 'PROGRESSED',
          remainingCount: 10,
          startedAt: start,
        })
        .returning();
      await db.insert(bookings).values({
        userId: user,
        passId: pass!.id,
        startedAt: new Date(start.getTime() + 10 * 3_600_000),
        endedAt: new Date(start.getTime() + 11 * 3_600_000),
        attended: true,
      });
    }
    await runStatistics({ day });
    const dir = await mkdtemp(join(tmpdir(), 'ptpass-stats-'));
    try {
      const out = join(dir, 'excel.csv');
      const written = await cli('stats', 'export', '--from', day, '--to', day, '--by-package', '--out', out);
      expect(written.code, written.stderr).toBe(0);
      const bytes = await readFile(out);
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const records = parse(bytes.toString('utf8'), { columns: true, bom: true }) as Array<
        Record<string, string>
      >;
      const byName = records.map((r) => r.package_name).sort();
      expect(byName).toEqual(
        [
          '개인 PT 10회권',
          '\'=HYPERLINK("http://x","클릭")',
          "'+82 요가",
          "'-1 필라테스",
          "'@SUM(A1)",
          "'\t탭",
          "'\r캐리지",
        ].sort(),
      );
      // Numbers are never escaped.
      expect(records.every((r) => /^\d+$/.test(r.bookings!))).toBe(true);

      const plain = await cli('stats', 'export', '--from', day, '--to', day, '--no-bom');
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout.startsWith('period,')).toBe(true);
      const withBom = await cli('stats', 'export', '--from', day, '--to', day);
      expect(withBom.stdout).toBe(`\uFEFF${plain.stdout}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bad input is one line naming the problem, exit 2, and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ptpass-stats-'));
    try {
      const cases: Array<[string[], RegExp]> = [
        [
          ['job', 'run', 'statistics', '--day', '2025-13-01'],
          /params\.day: must be a calendar day YYYY-MM-DD/,
        ],
        [['job', 'run', 'statistics', '--day', 'yesterday'], /params\.day: must be a calendar day/],
        [['job', 'run', 'statistics', '--from', '2025-03-10', '--to', '2025-03-01'], /is before from/],
        [['job', 'run', 'statistics', '--from', '2025-03-10'], /params\.to: from and to go together/],
        [
          ['job', 'run', 'statistics', '--day', '2025-03-10', '--param', 'day=2025-03-11'],
          /day is given twice/,
        ],
        [['job', 'run', 'pass-lifecycle', '--day', '2025-03-10'], /--day is not an option of pass-lifecycle/],
        [['stats', 'show', '--from', '2025-03-10'], /--to is required/],
        [
          ['stats', 'show', '--from', '2025-03-32', '--to', '2025-04-01'],
          /--from '2025-03-32' is not a calendar day/,
        ],
        [['stats', 'show', '--from', '2025-03-10', '--to', '2025-03-01'], /--to 2025-03-01 is before --from/],
        [
          ['stats', 'show', '--from', '2025-03-01', '--to', '2025-03-10', '--period', 'year'],
          /--period 'year'/,
        ],
        [
          ['stats', 'export', '--from', '2025-03-10', '--to', '2025-03-01', '--out', join(dir, 'x.csv')],
          /before/,
        ],
        [
          [
            'stats',
            'export',
            '--from',
            '2025-03-01',
            '--to',
            '2025-03-10',
            '--out',
            join(dir, 'no/such/dir.csv'),
          ],
          /cannot write .*: ENOENT/,
        ],
      ];
      for (const [argv, message] of cases) {
        const result = await cli(...argv);
        expect(result.code, argv.join(' ')).toBe(2);
        expect(result.stderr).toMatch(message);
        expect(result.stderr.trim().split('\n'), argv.join(' ')).toHaveLength(1);
        expect(result.stdout).toBe('');
      }
      expect(await countRows('statistics')).toBe(0);
      expect(await countRows('job_runs')).toBe(0);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
