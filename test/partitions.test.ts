import { Readable } from 'node:stream';
import { eq, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { choosePartitions, ROWS_PER_PARTITION } from '../src/activities/index.ts';
import { coverKeySpace, splitKeyRange } from '../src/activities/step-runner.ts';
import { openImportFile } from '../src/client/import-file.ts';
import { importFile } from '../src/client/imports.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { passes } from '../src/db/schema.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedManyPasses, seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';

/** How many partitions a run picks when its settings do not say (README "Scaling out"). */

describe('choosePartitions', () => {
  it('gives one partition per ROWS_PER_PARTITION rows, bounded by a quarter of the worker slots and 8', () => {
    expect(choosePartitions(1000, 16)).toBe(1);
    expect(choosePartitions(ROWS_PER_PARTITION * 2 - 1, 16)).toBe(1);
    expect(choosePartitions(ROWS_PER_PARTITION * 2, 16)).toBe(2);
    expect(choosePartitions(ROWS_PER_PARTITION * 100, 16)).toBe(4);
    expect(choosePartitions(ROWS_PER_PARTITION * 100, 4)).toBe(1);
    expect(choosePartitions(ROWS_PER_PARTITION * 100, 256)).toBe(8);
    // A step that declares more partitions keeps them.
    expect(choosePartitions(10, 16, 3)).toBe(3);
    // A step may say how many rows a partition is worth (deliveries: 2,000).
    expect(choosePartitions(5000, 16, 1, 2000)).toBe(2);
  });

  it('splits UUID keys as the 128-bit numbers PostgreSQL orders them by', () => {
    const all = { min: '00000000-0000-0000-0000-000000000000', max: 'ffffffff-ffff-ffff-ffff-ffffffffffff' };
    expect(splitKeyRange(all, 4)).toEqual([
      { partition: 0, after: null, upTo: '3fffffff-ffff-ffff-ffff-ffffffffffff' },
      {
        partition: 1,
        after: '3fffffff-ffff-ffff-ffff-ffffffffffff',
        upTo: '7fffffff-ffff-ffff-ffff-ffffffffffff',
      },
      {
        partition: 2,
        after: '7fffffff-ffff-ffff-ffff-ffffffffffff',
        upTo: 'bfffffff-ffff-ffff-ffff-ffffffffffff',
      },
      { partition: 3, after: 'bfffffff-ffff-ffff-ffff-ffffffffffff', upTo: null },
    ]);
    expect(splitKeyRange({ min: '1', max: '100' }, 2)).toEqual([
      { partition: 0, after: null, upTo: '50' },
      { partition: 1, after: '50', upTo: null },
    ]);
  });
});

describe('coverKeySpace', () => {
  it('adds the ranges of partitions that left no record, so a restart reads every key', () => {
    const parts = splitKeyRange({ min: '1', max: '400' }, 4);
    expect(coverKeySpace(parts)).toEqual(parts);
    expect(coverKeySpace([parts[1]!, parts[3]!])).toEqual([
      { partition: 0, after: null, upTo: '100' },
      parts[1],
      { partition: 2, after: '200', upTo: '300' },
      parts[3],
    ]);
    expect(coverKeySpace([parts[0]!])).toEqual([parts[0], { partition: 1, after: '100', upTo: null }]);
    expect(coverKeySpace([{ partition: 0, after: null, upTo: null }])).toEqual([
      { partition: 0, after: null, upTo: null },
    ]);
  });
});

const env = useJobTestEnvironment('partitions');
beforeAll(async () => {
  await env.restartWorker();
});

describe('a run without a partition setting', () => {
  it('splits by the rows due, not by the width of the key range, and the run setting overrides it', async () => {
    const db = env.database.db;
    const asOf = uniqueAsOf();
    const user = await seedUser(db);
    const pkg = await seedPackage(db, 5, 30);
    const day = 86_400_000;
    const ended = { startedAt: new Date(asOf.getTime() - 30 * day), endedAt: new Date(asOf.getTime() - day) };
    const low = await seedPass(db, { userId: user, packageId: pkg, status: 'PROGRESSED', ...ended });
    // A pass far up the key range: 600,000 keys wide, but two passes due: one partition is enough.
    await db.execute(sql`SELECT setval(pg_get_serial_sequence('passes', 'id'), ${low + 600_000})`);
    const high = await seedPass(db, { userId: user, packageId: pkg, status: 'PROGRESSED', ...ended });
    await db.execute(sql`ANALYZE passes`);

    const few = await launchJob(env.launchDeps(), { job: 'pass-lifecycle', asOf, wait: true });
    if (few.outcome !== 'completed') throw new Error(few.outcome);
    // Nothing due to activate: planning finds it so and the step runs no activity (0 partitions).
    expect(few.result.steps.map((s) => [s.step, s.partitions, s.written])).toEqual([
      ['activate', 0, 0],
      ['expire', 1, 2],
    ]);
    for (const id of [low, high]) {
      const [row] = await db.select().from(passes).where(eq(passes.id, id));
      expect(row?.status).toBe('EXPIRED');
    }

    // Two partitions' worth of due passes (as the statistics autovacuum keeps say): expire splits in two;
    // nothing is due to activate, so activate does not run.
    const { due } = await seedManyPasses(db, {
      count: ROWS_PER_PARTITION * 2.5,
      userId: user,
      packageId: pkg,
      asOf,
      every: 1,
    });
    await db.execute(sql`ANALYZE passes`);
    const many = await launchJob(env.launchDeps(), { job: 'pass-lifecycle', asOf, rerun: true, wait: true });
    if (many.outcome !== 'completed') throw new Error(many.outcome);
    expect(many.result.steps.map((s) => [s.step, s.partitions, s.written])).toEqual([
      ['activate', 0, 0],
      ['expire', 2, due],
    ]);

    // The run's setting wins over the rule (a few more passes due, so that expire has work to split).
    await seedManyPasses(db, { count: 30, userId: user, packageId: pkg, asOf, every: 1 });

    const asked = await launchJob(env.launchDeps(), {
      job: 'pass-lifecycle',
      asOf,
      rerun: true,
      wait: true,
      settings: { steps: { activate: { partitions: 1 }, expire: { partitions: 3 } } },
    });
    if (asked.outcome !== 'completed') throw new Error(asked.outcome);
    expect(asked.result.steps.map((s) => [s.step, s.partitions, s.written])).toEqual([
      ['activate', 1, 0],
      ['expire', 3, 30],
    ]);
  });
});

describe('an import without a partition setting', () => {
  it('splits a file of 60,000 members into two line ranges and records the counts of the whole file', async () => {
    const db = env.database.db;
    const ROWS = 60_000;
    const lines = ['external_id,name'];
    for (let i = 1; i <= ROWS - 2; i++) lines.push(`auto-${i},member ${i}`);
    // In the second range: a repeat of the first line's external id, and a row without a name.
    lines.push('auto-1,someone else', 'auto-x,');
    const imported = await importFile(env.launchDeps(), {
      kind: 'members',
      fileName: 'members.csv',
      file: await openImportFile('members', Readable.from([Buffer.from(`${lines.join('\n')}\n`)])),
      wait: true,
    });
    expect(imported).toMatchObject({ rows: ROWS, written: ROWS - 2, rejected: 2 });
    if (imported.launch.outcome !== 'completed') throw new Error(imported.launch.outcome);
    expect(imported.launch.result.steps.map((s) => [s.step, s.partitions, s.read])).toEqual([
      ['upsert', 2, ROWS],
    ]);
    const [row] = await db.execute<{ status: string; written: number; rejected: number }>(sql`
      SELECT status, written_count AS written, rejected_count AS rejected FROM imports WHERE id = ${imported.importId}`);
    expect(row).toEqual({ status: 'IMPORTED', written: ROWS - 2, rejected: 2 });
    const [members] = await db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM users WHERE external_id LIKE 'auto-%'`,
    );
    expect(members?.n).toBe(ROWS - 2);
  });
});
