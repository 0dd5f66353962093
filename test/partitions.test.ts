import { eq, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { choosePartitions, ROWS_PER_PARTITION } from '../src/activities/index.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { passes } from '../src/db/schema.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';

/** How many partitions a run picks when its settings do not say (README "Scaling out"). */

describe('choosePartitions', () => {
  const range = (keys: number) => ({ min: '1', max: String(keys) });
  it('gives one partition per ROWS_PER_PARTITION keys, bounded by a quarter of the worker slots and 8', () => {
    expect(choosePartitions(range(1000), 16)).toBe(1);
    expect(choosePartitions(range(ROWS_PER_PARTITION * 2 - 1), 16)).toBe(1);
    expect(choosePartitions(range(ROWS_PER_PARTITION * 2), 16)).toBe(2);
    expect(choosePartitions(range(ROWS_PER_PARTITION * 100), 16)).toBe(4);
    expect(choosePartitions(range(ROWS_PER_PARTITION * 100), 4)).toBe(1);
    expect(choosePartitions(range(ROWS_PER_PARTITION * 100), 256)).toBe(8);
    // A step that declares more partitions keeps them.
    expect(choosePartitions(range(10), 16, 3)).toBe(3);
  });
});

const env = useJobTestEnvironment('partitions');
beforeAll(async () => {
  await env.restartWorker();
});

describe('a run without a partition setting', () => {
  it('splits a wide key range by the rule, and the run setting overrides it', async () => {
    const db = env.database.db;
    const asOf = uniqueAsOf();
    const user = await seedUser(db);
    const pkg = await seedPackage(db, 5, 30);
    const day = 86_400_000;
    const ended = { startedAt: new Date(asOf.getTime() - 30 * day), endedAt: new Date(asOf.getTime() - day) };
    const low = await seedPass(db, { userId: user, packageId: pkg, status: 'PROGRESSED', ...ended });
    // A pass far up the key range: 600,000 keys wide, two partitions' worth by the rule.
    await db.execute(sql`SELECT setval(pg_get_serial_sequence('passes', 'id'), ${low + 600_000})`);
    const high = await seedPass(db, { userId: user, packageId: pkg, status: 'PROGRESSED', ...ended });

    const auto = await launchJob(env.launchDeps(), { job: 'pass-lifecycle', asOf, wait: true });
    if (auto.outcome !== 'completed') throw new Error(auto.outcome);
    expect(auto.result.steps.map((s) => [s.step, s.partitions])).toEqual([
      ['activate', 2],
      ['expire', 2],
    ]);
    for (const id of [low, high]) {
      const [row] = await db.select().from(passes).where(eq(passes.id, id));
      expect(row?.status).toBe('EXPIRED');
    }

    const asked = await launchJob(env.launchDeps(), {
      job: 'pass-lifecycle',
      asOf,
      rerun: true,
      wait: true,
      settings: { steps: { activate: { partitions: 1 }, expire: { partitions: 3 } } },
    });
    if (asked.outcome !== 'completed') throw new Error(asked.outcome);
    expect(asked.result.steps.map((s) => [s.step, s.partitions])).toEqual([
      ['activate', 1],
      ['expire', 3],
    ]);
  });
});
