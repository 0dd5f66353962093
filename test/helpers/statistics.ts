import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.ts';
import { bookings, bulkPasses, passes, userGroups } from '../../src/db/schema.ts';
import { parseInstant } from '../../src/time.ts';

/** Seoul wall-clock time as an instant: `seoul('2025-03-10 23:59:59')`. */
export function seoul(local: string): Date {
  const at = parseInstant(local, 'Asia/Seoul');
  if (!at) throw new Error(`bad test time ${local}`);
  return at;
}

export interface BookingSeed {
  userId: number;
  passId?: number | null;
  startedAt: Date;
  /** Defaults to one hour after the start. */
  endedAt?: Date;
  attended?: boolean;
  usedPass?: boolean;
  cancelled?: boolean;
}

export async function seedBooking(db: Db, b: BookingSeed): Promise<number> {
  const [row] = await db
    .insert(bookings)
    .values({
      userId: b.userId,
      passId: b.passId ?? null,
      status: b.cancelled ? 'CANCELLED' : b.attended ? 'COMPLETED' : 'READY',
      usedPass: b.usedPass ?? false,
      attended: b.attended ?? false,
      startedAt: b.startedAt,
      endedAt: b.endedAt ?? new Date(b.startedAt.getTime() + 3_600_000),
      cancelledAt: b.cancelled ? b.startedAt : null,
    })
    .returning({ id: bookings.id });
  return row!.id;
}

export interface StatsPassSeed {
  userId: number;
  packageId: number;
  createdAt: Date;
  startedAt: Date;
  endedAt?: Date | null;
  expiredAt?: Date | null;
  remainingCount?: number | null;
  bulkPassId?: number | null;
}

/** A pass with an explicit creation time (issued-on-a-day matters to statistics). */
export async function seedStatsPass(db: Db, p: StatsPassSeed): Promise<number> {
  const [row] = await db
    .insert(passes)
    .values({
      userId: p.userId,
      packageId: p.packageId,
      bulkPassId: p.bulkPassId ?? null,
      status: p.expiredAt ? 'EXPIRED' : 'PROGRESSED',
      remainingCount: p.remainingCount === undefined ? 10 : p.remainingCount,
      startedAt: p.startedAt,
      endedAt: p.endedAt ?? null,
      expiredAt: p.expiredAt ?? null,
      createdAt: p.createdAt,
      modifiedAt: p.createdAt,
    })
    .returning({ id: passes.id });
  return row!.id;
}

export async function seedBulkPass(
  db: Db,
  b: { packageId: number; count: number | null; startedAt: Date },
): Promise<number> {
  const [group] = await db.insert(userGroups).values({ name: 'group' }).returning({ id: userGroups.id });
  const [row] = await db
    .insert(bulkPasses)
    .values({ packageId: b.packageId, groupId: group!.id, count: b.count, startedAt: b.startedAt })
    .returning({ id: bulkPasses.id });
  return row!.id;
}

export type StatsRowSnapshot = Record<string, string | number | null>;

/** Every statistics row, ordered, with or without the bookkeeping columns (id, created_at, modified_at). */
export async function statisticsRows(db: Db, withBookkeeping = false): Promise<StatsRowSnapshot[]> {
  const rows = await db.execute<StatsRowSnapshot>(sql`
    SELECT id, day::text AS day, package_id, bookings, attended, no_shows, cancelled, sessions_deducted,
      passes_issued, passes_expired, active_passes, ending_passes, ending_sessions_sold, ending_sessions_used,
      created_at::text AS created_at, modified_at::text AS modified_at
    FROM statistics ORDER BY day, package_id NULLS FIRST`);
  return rows.map((r) => {
    const { id, created_at = null, modified_at = null, ...figures } = r;
    const row: StatsRowSnapshot = {
      ...figures,
      package_id: figures.package_id === null ? null : Number(figures.package_id),
    };
    return withBookkeeping ? { id: Number(id), ...row, created_at, modified_at } : row;
  });
}

/** The figures of one day's row (studio totals when packageId is null), without day and package. */
export async function dayFigures(db: Db, day: string, packageId: number | null = null) {
  const rows = await statisticsRows(db);
  const row = rows.find((r) => r.day === day && r.package_id === packageId);
  if (!row) return undefined;
  const { day: _day, package_id: _pkg, ...figures } = row;
  return figures;
}

export const ZERO_FIGURES = {
  bookings: 0,
  attended: 0,
  no_shows: 0,
  cancelled: 0,
  sessions_deducted: 0,
  passes_issued: 0,
  passes_expired: 0,
  active_passes: 0,
  ending_passes: 0,
  ending_sessions_sold: 0,
  ending_sessions_used: 0,
};
