import { type SQL, sql } from 'drizzle-orm';
import type { NoShowPolicy } from '../../jobs/deduct-sessions.ts';
import type { DbOrTx } from '../client.ts';
import { afterKey, anyRow, type ChunkCounts, type ChunkWindow, plannedRows, upToKey } from './keyset.ts';
import { instant } from './passes.ts';

/**
 * Session deduction, one set-based statement per chunk. A booking is due when it is not CANCELLED (a late
 * cancel still is: see `bookings.late_cancel`), its class ended at or before T and it has not used its pass yet. The statement
 *  1. reads a keyset page of due bookings (`id > after ORDER BY id LIMIT n`, never OFFSET);
 *  2. re-reads them under a row lock, re-checking that they are still due: a booking cancelled (or
 *     deducted) after the page was read drops out here and is neither written nor charged;
 *  3. locks their passes in id order, so it sees each pass's latest committed count and two partitions
 *     touching the same pass queue instead of deadlocking;
 *  4. decides each booking: a problem with the pass (missing, expired before the class), an unlimited
 *     pass, or its turn among this page's deductible bookings of the same pass (booking id order) against
 *     the pass's remaining count — so three bookings of a pass with two sessions left deduct two and skip
 *     the third, and none is charged twice;
 *  5. decrements each pass by the number of its bookings that fit (`remaining_count - n`, guarded by
 *     `remaining_count >= n`), expiring it at T when it reaches 0;
 *  6. marks the bookings whose pass was actually decremented (or is unlimited) COMPLETED with
 *     `used_pass`, re-checking that they are still due.
 * Every outcome depends only on the booking order and the counts, never on where chunks start, so a
 * retried chunk, a resumed step or a re-run leaves the same rows as one clean run.
 */

export type DeductionSkipReason = 'pass-missing' | 'pass-expired' | 'no-sessions-left';

export interface DeductionWindow extends ChunkWindow {
  noShow: NoShowPolicy;
}

export interface DeductionCounts extends ChunkCounts {
  /** Bookings that could not be deducted, with the reason; they stay due and are reported again next run. */
  skipped: Array<{ key: string; reason: DeductionSkipReason }>;
}

/** A booking that still owes its session as of T (alias `b`). */
function due(w: Pick<DeductionWindow, 'asOf' | 'noShow'>): SQL {
  // A late cancel (inside LATE_CANCEL_HOURS) costs its session whatever the no-show policy.
  const attended = w.noShow === 'keep' ? sql` AND (b.attended OR b.late_cancel)` : sql``;
  return sql`b.used_pass = false AND (b.status <> 'CANCELLED' OR b.late_cancel) AND b.ended_at <= ${instant(w.asOf)}${attended}`;
}

/** A no-show left undeducted as of T under the `keep` policy (alias `b`). */
function keptNoShow(asOf: Date): SQL {
  return sql`b.used_pass = false AND b.status <> 'CANCELLED' AND b.ended_at <= ${instant(asOf)} AND b.attended = false`;
}

/** Whether any booking owes its session as of T: from `bookings_undeducted_idx`, whose predicate this implies. */
export function anyDueBooking(db: DbOrTx, w: Pick<DeductionWindow, 'asOf' | 'noShow'>): Promise<boolean> {
  return anyRow(db, sql`SELECT 1 FROM bookings b WHERE ${due(w)}`);
}

/** Whether any no-show is left undeducted as of T (the `keep` policy's count), from the same index. */
export function anyKeptNoShow(db: DbOrTx, asOf: Date): Promise<boolean> {
  return anyRow(db, sql`SELECT 1 FROM bookings b WHERE ${keptNoShow(asOf)}`);
}

/** The planner's estimate of the bookings `deduct` reads as of T. */
export function estimateDeductions(db: DbOrTx, w: Pick<DeductionWindow, 'asOf' | 'noShow'>): Promise<number> {
  return plannedRows(db, sql`SELECT b.id FROM bookings b WHERE ${due(w)}`);
}

export async function deductSessionsChunk(db: DbOrTx, w: DeductionWindow): Promise<DeductionCounts> {
  const rows = await db.execute<{
    read: number;
    written: number;
    last_key: string | null;
    skipped: Array<{ key: string; reason: DeductionSkipReason }> | string | null;
  }>(deductSessionsStatement(w));
  const row = rows[0];
  const skipped = typeof row?.skipped === 'string' ? JSON.parse(row.skipped) : (row?.skipped ?? []);
  return {
    read: Number(row?.read ?? 0),
    written: Number(row?.written ?? 0),
    lastKey: row?.last_key ?? null,
    skipped,
  };
}

/** `deductSessionsChunk`'s statement (exported for the plan checks in test/chunk-plans.test.ts). */
export function deductSessionsStatement(w: DeductionWindow): SQL {
  const asOf = instant(w.asOf);
  return sql`
    WITH page AS MATERIALIZED (
      SELECT b.id FROM bookings b
      WHERE ${due(w)} AND b.id > ${afterKey(w)} AND b.id <= ${upToKey(w)}
      ORDER BY b.id
      LIMIT ${w.limit}
    ), booking_locks AS MATERIALIZED (
      SELECT b.id, b.pass_id, b.started_at FROM bookings b
      WHERE b.id IN (SELECT id FROM page) AND ${due(w)}
      ORDER BY b.id
      FOR UPDATE OF b
    ), pass_locks AS MATERIALIZED (
      SELECT p.id, p.status, p.remaining_count, p.ended_at, p.expired_at FROM passes p
      WHERE p.id IN (SELECT pass_id FROM booking_locks)
      ORDER BY p.id
      FOR UPDATE OF p
    ), classified AS (
      SELECT b.id, b.pass_id, p.remaining_count,
        CASE
          WHEN p.id IS NULL THEN 'pass-missing'
          WHEN p.ended_at <= b.started_at OR (p.status = 'EXPIRED' AND p.expired_at <= b.started_at)
            THEN 'pass-expired'
        END AS problem
      FROM booking_locks b LEFT JOIN pass_locks p ON p.id = b.pass_id
    ), decided AS (
      SELECT id, pass_id,
        CASE
          WHEN problem IS NOT NULL THEN problem
          WHEN remaining_count IS NULL THEN 'unlimited'
          WHEN turn <= remaining_count THEN 'deduct'
          ELSE 'no-sessions-left'
        END AS outcome
      FROM (
        SELECT c.*,
          count(*) FILTER (WHERE c.problem IS NULL) OVER (PARTITION BY c.pass_id ORDER BY c.id) AS turn
        FROM classified c
      ) ranked
    ), per_pass AS (
      SELECT pass_id, count(*)::int AS n FROM decided WHERE outcome = 'deduct' GROUP BY pass_id
    ), passes_changed AS (
      UPDATE passes p SET
        remaining_count = p.remaining_count - d.n,
        status = CASE WHEN p.remaining_count - d.n = 0 THEN 'EXPIRED'::pass_status ELSE p.status END,
        expired_at = CASE
          WHEN p.remaining_count - d.n = 0 AND p.status <> 'EXPIRED' THEN ${asOf}
          ELSE p.expired_at
        END,
        modified_at = now()
      FROM per_pass d
      WHERE p.id = d.pass_id AND p.remaining_count >= d.n
      RETURNING p.id
    ), bookings_changed AS (
      UPDATE bookings b SET
        status = CASE WHEN b.late_cancel THEN b.status ELSE 'COMPLETED'::booking_status END,
        used_pass = true, modified_at = now()
      FROM decided d
      WHERE b.id = d.id
        AND (d.outcome = 'unlimited' OR (d.outcome = 'deduct' AND d.pass_id IN (SELECT id FROM passes_changed)))
        AND ${due(w)}
      RETURNING b.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM bookings_changed)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key,
           (SELECT coalesce(json_agg(json_build_object('key', id::text, 'reason', outcome) ORDER BY id), '[]')
              FROM decided WHERE outcome NOT IN ('deduct', 'unlimited')) AS skipped`;
}

/**
 * Under the `keep` policy: a keyset page of the no-shows left undeducted as of T. Reads and counts them;
 * writes nothing.
 */
export async function countKeptNoShowsChunk(db: DbOrTx, w: ChunkWindow): Promise<ChunkCounts> {
  const rows = await db.execute<{ read: number; last_key: string | null }>(sql`
    WITH page AS (
      SELECT b.id FROM bookings b
      WHERE ${keptNoShow(w.asOf)}
        AND b.id > ${afterKey(w)} AND b.id <= ${upToKey(w)}
      ORDER BY b.id
      LIMIT ${w.limit}
    )
    SELECT count(*)::int AS read, max(id)::text AS last_key FROM page`);
  const row = rows[0];
  return { read: Number(row?.read ?? 0), written: 0, lastKey: row?.last_key ?? null };
}

/** Key bounds of the bookings table, for splitting a step into parallel key-range partitions. */
export async function bookingKeyRange(db: DbOrTx): Promise<{ min: string; max: string } | null> {
  const rows = await db.execute<{ min: string | null; max: string | null }>(
    sql`SELECT min(id)::text AS min, max(id)::text AS max FROM bookings`,
  );
  const row = rows[0];
  return row?.min && row.max ? { min: row.min, max: row.max } : null;
}
