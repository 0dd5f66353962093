import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.ts';
import { bookings } from '../../src/db/schema.ts';

export interface BookingSeed {
  userId: number;
  passId: number | null;
  startedAt: Date;
  /** Default: an hour after the start. */
  endedAt?: Date;
  status?: 'READY' | 'PROGRESSED' | 'COMPLETED' | 'CANCELLED';
  attended?: boolean;
  usedPass?: boolean;
}

export async function seedBooking(db: Db, b: BookingSeed): Promise<number> {
  const [row] = await db
    .insert(bookings)
    .values({
      userId: b.userId,
      passId: b.passId,
      startedAt: b.startedAt,
      endedAt: b.endedAt ?? new Date(b.startedAt.getTime() + 3_600_000),
      status: b.status ?? 'READY',
      attended: b.attended ?? true,
      usedPass: b.usedPass ?? false,
      cancelledAt: b.status === 'CANCELLED' ? b.startedAt : null,
    })
    .returning({ id: bookings.id });
  return row!.id;
}

/**
 * A studio's worth of passes and bookings in a few statements, deterministic from the ids:
 * `passCount` passes whose counts cycle through null (unlimited), 1, 2, 3, 5 and 8, each with
 * `bookingsPerPass` bookings interleaved across passes (so one pass's bookings spread over many chunks).
 * Every 7th booking is in the future, every 11th cancelled, every 5th a no-show. Returns how many bookings
 * there are and how many are due (not cancelled, ended by `asOf`).
 */
export async function seedStudio(
  db: Db,
  opts: { userId: number; packageId: number; asOf: Date; passCount: number; bookingsPerPass: number },
): Promise<{ bookings: number; due: number }> {
  const at = (ms: number) => sql`${new Date(opts.asOf.getTime() + ms).toISOString()}::timestamptz`;
  const day = 86_400_000;
  await db.execute(sql`
    INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at)
    SELECT ${opts.userId}, ${opts.packageId}, 'PROGRESSED',
           (ARRAY[NULL, 1, 2, 3, 5, 8])[1 + g % 6], ${at(-60 * day)}, ${at(60 * day)}
    FROM generate_series(1, ${opts.passCount}) AS g`);
  await db.execute(sql`
    INSERT INTO bookings (user_id, pass_id, status, attended, started_at, ended_at, cancelled_at)
    SELECT ${opts.userId}, p.id,
           CASE WHEN k % 11 = 0 THEN 'CANCELLED' ELSE 'READY' END::booking_status,
           k % 5 <> 0,
           CASE WHEN k % 7 = 0 THEN ${at(day)} ELSE ${at(-day)} END,
           CASE WHEN k % 7 = 0 THEN ${at(day + 3_600_000)} ELSE ${at(-day + 3_600_000)} END,
           CASE WHEN k % 11 = 0 THEN ${at(-2 * day)} END
    FROM generate_series(1, ${opts.bookingsPerPass}) AS r
    CROSS JOIN LATERAL (SELECT id FROM passes ORDER BY id) p
    CROSS JOIN LATERAL (SELECT (r - 1) * ${opts.passCount} + p.id AS k) kk
    ORDER BY r, p.id`);
  const [row] = await db.execute<{ bookings: number; due: number }>(sql`
    SELECT count(*)::int AS bookings,
           count(*) FILTER (WHERE status <> 'CANCELLED' AND ended_at <= ${at(0)})::int AS due
    FROM bookings`);
  return { bookings: row!.bookings, due: row!.due };
}
