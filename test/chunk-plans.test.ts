import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deductSessionsSteps } from '../src/activities/deduct-sessions.ts';
import { passLifecycleSteps } from '../src/activities/pass-lifecycle.ts';
import { deductSessionsStatement } from '../src/db/queries/deductions.ts';
import { activatePassesStatement, expirePassesStatement } from '../src/db/queries/passes.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { chunkPlan, nodes, type PlanNode } from './helpers/plans.ts';
import { seedManyPasses, seedPackage, seedUser } from './helpers/seed.ts';

/**
 * A chunk of a step that reads its page by key (`pageByKey`) does so whatever the table's size. At
 * PostgreSQL's default `random_page_cost` the planner hashed the whole table for every chunk of 150,000
 * passes or 20,000 bookings (a Seq Scan per chunk, so a chunk cost more the larger the table); the chunk
 * transaction's settings for such a step (`chunkTransactionSettings`) make it look each row up by key.
 * Plans only (`EXPLAIN`): nothing is timed.
 */

let database: TestDatabase;
const T = new Date('2026-03-01T00:00:00Z');
const day = 86_400_000;
const window = { asOf: T, after: null, upTo: null, limit: 2000 };

beforeAll(async () => {
  database = await createTestDatabase('chunk_plans');
  const db = database.db;
  const user = await seedUser(db, 'Plan');
  const pkg = await seedPackage(db, 10, 30);
  // 100,000 PROGRESSED passes, half of them due for expiry at T; 50,000 READY, half of them due to start.
  await seedManyPasses(db, { count: 100_000, userId: user, packageId: pkg, asOf: T, every: 2 });
  await db.execute(sql`
    INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at)
    SELECT ${user}, ${pkg}, 'READY', 10,
           CASE WHEN g % 2 = 0 THEN ${new Date(T.getTime() - day).toISOString()}::timestamptz
                ELSE ${new Date(T.getTime() + day).toISOString()}::timestamptz END,
           ${new Date(T.getTime() + 30 * day).toISOString()}::timestamptz
    FROM generate_series(1, 50000) AS g`);
  // 20,000 ended bookings owing their session, two to a pass (at this size the default plan hashed the
  // whole bookings table for each page).
  await db.execute(sql`
    INSERT INTO bookings (user_id, pass_id, status, started_at, ended_at)
    SELECT ${user}, (g % 10000) + 1, 'READY',
           ${new Date(T.getTime() - 2 * 3_600_000).toISOString()}::timestamptz,
           ${new Date(T.getTime() - 3_600_000).toISOString()}::timestamptz
    FROM generate_series(1, 20000) AS g`);
  await db.execute(sql`ANALYZE passes`);
  await db.execute(sql`ANALYZE bookings`);
}, 120_000);
afterAll(async () => {
  await database?.drop();
});

/** How the plan reads `table`: each scan's node type and index, in plan order. */
function readsOf(plan: PlanNode, table: string): string[] {
  return nodes(plan)
    .filter((n) => n['Relation Name'] === table && n['Node Type'] !== 'ModifyTable')
    .map((n) => `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ''}`);
}

describe('chunk statements read their page by key, never the whole table', () => {
  it('pass-lifecycle activate and expire', async () => {
    const steps = [
      [activatePassesStatement(window), passLifecycleSteps.activate!],
      [expirePassesStatement(window), passLifecycleSteps.expire!],
    ] as const;
    for (const [statement, step] of steps) {
      const reads = readsOf(await chunkPlan(database.db, statement, step), 'passes');
      expect(reads.length).toBeGreaterThan(0);
      for (const read of reads) expect(read).toMatch(/^Index (Only )?Scan /);
    }
  });

  it('deduct-sessions deduct', async () => {
    const plan = await chunkPlan(
      database.db,
      deductSessionsStatement({ ...window, noShow: 'deduct' }),
      deductSessionsSteps.deduct,
    );
    for (const table of ['bookings', 'passes']) {
      const reads = readsOf(plan, table);
      expect(reads.length, table).toBeGreaterThan(0);
      for (const read of reads) expect(read, table).toMatch(/^Index (Only )?Scan /);
    }
  });

  it('deduct-sessions deduct walks the bookings that may owe a session, not the booking history', async () => {
    // Years of history (deducted bookings, lower IDs) before today's 2,000 due: a page that walked the
    // primary key would read the whole history first, on every run.
    const history = await createTestDatabase('chunk_plans_history');
    try {
      const db = history.db;
      const user = await seedUser(db, 'History');
      const pkg = await seedPackage(db, 10, 30);
      await seedManyPasses(db, { count: 1000, userId: user, packageId: pkg, asOf: T, every: 1_000_000 });
      const at = (hours: number) => new Date(T.getTime() + hours * 3_600_000).toISOString();
      await db.execute(sql`
        INSERT INTO bookings (user_id, pass_id, status, used_pass, started_at, ended_at)
        SELECT ${user}, (g % 1000) + 1, 'COMPLETED', true, ${at(-24 * 400)}::timestamptz, ${at(-24 * 399)}::timestamptz
        FROM generate_series(1, 200000) AS g`);
      await db.execute(sql`
        INSERT INTO bookings (user_id, pass_id, status, started_at, ended_at)
        SELECT ${user}, (g % 1000) + 1, 'READY', ${at(-2)}::timestamptz, ${at(-1)}::timestamptz
        FROM generate_series(1, 2000) AS g`);
      await db.execute(sql`ANALYZE bookings`);
      const plan = await chunkPlan(
        db,
        deductSessionsStatement({ ...window, noShow: 'deduct' }),
        deductSessionsSteps.deduct,
      );
      expect(readsOf(plan, 'bookings')).toContain('Index Scan bookings_undeducted_idx');
    } finally {
      await history.drop();
    }
  });
});
