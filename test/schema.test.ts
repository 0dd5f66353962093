import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookings, bulkPasses, passes, userGroups } from '../src/db/schema.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedPackage, seedPass, seedUser } from './helpers/seed.ts';

let database: TestDatabase;
beforeAll(async () => {
  // createTestDatabase applies the committed migrations to an empty database.
  database = await createTestDatabase('schema');
});
afterAll(async () => database?.drop());

/** The constraint PostgreSQL reports for a failed statement. */
async function violation(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
    return undefined;
  } catch (err) {
    const cause = (err as { cause?: { constraint_name?: string } }).cause;
    return cause?.constraint_name ?? String(err);
  }
}

describe('schema', () => {
  it('migrations create every table on an empty database', async () => {
    const rows = await database.db.execute<{ table_name: string }>(
      sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'bookings',
        'bulk_passes',
        'job_runs',
        'notifications',
        'packages',
        'passes',
        'statistics',
        'step_runs',
        'step_skips',
        'user_group_members',
        'user_groups',
        'users',
      ]),
    );
    const columns = await database.db.execute<{ table_name: string; data_type: string }>(sql`
      SELECT table_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' AND column_name IN ('started_at', 'ended_at', 'created_at', 'modified_at')`);
    expect(new Set(columns.map((c) => c.data_type))).toEqual(new Set(['timestamp with time zone']));
  });

  it('the database itself rejects invalid rows', async () => {
    const user = await seedUser(database.db);
    const pkg = await seedPackage(database.db);
    const start = new Date('2026-05-01T00:00:00Z');

    expect(
      await violation(() =>
        seedPass(database.db, { userId: user, packageId: pkg, startedAt: start, remainingCount: -1 }),
      ),
    ).toBe('passes_remaining_count_non_negative');
    expect(
      await violation(() =>
        seedPass(database.db, {
          userId: user,
          packageId: pkg,
          startedAt: start,
          endedAt: new Date('2026-04-01T00:00:00Z'),
        }),
      ),
    ).toBe('passes_end_after_start');
    expect(await violation(() => seedPackage(database.db, 0, 30))).toBe('packages_session_count_positive');

    const [group] = await database.db.insert(userGroups).values({ name: 'g' }).returning();
    const [bulk] = await database.db
      .insert(bulkPasses)
      .values({ packageId: pkg, groupId: group!.id, startedAt: start })
      .returning();
    const fromBulk = {
      userId: user,
      packageId: pkg,
      bulkPassId: bulk!.id,
      startedAt: start,
      remainingCount: 10,
    };
    await database.db.insert(passes).values(fromBulk);
    expect(await violation(() => database.db.insert(passes).values(fromBulk))).toBe(
      'passes_bulk_pass_user_unique',
    );

    expect(
      await violation(() =>
        database.db.insert(bookings).values({ userId: user, startedAt: start, endedAt: start }),
      ),
    ).toBe('bookings_end_after_start');
    expect(
      await violation(() =>
        database.db
          .insert(bulkPasses)
          .values({ packageId: pkg, groupId: group!.id, startedAt: start, count: 0 }),
      ),
    ).toBe('bulk_passes_count_positive');
  });
});
