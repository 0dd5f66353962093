import { desc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { studioClosures } from '../schema.ts';
import { dayRange, heldOn, shiftEnd } from './holds.ts';
import { instant } from './passes.ts';

/**
 * Studio closures and the `apply-closure` job's rule. See README "Holds and studio closures".
 *
 * A closure covers business days `starts_on..ends_on`. Every pass active during it — not EXPIRED, with an
 * end, started before the closure's last day is over and ending after its first day began — is extended
 * by the closed days that fall within the pass's own days and on which it is not on hold (a held day
 * already moved its end). The extension row `(closure_id, pass_id)` is inserted in the same statement as
 * the end-date update, `ON CONFLICT DO NOTHING`: a pass is extended once per closure, whatever re-runs,
 * retried chunks or crashed workers do.
 */

export interface ClosureWindow {
  closureId: number;
  after: string | null;
  upTo: string | null;
  limit: number;
  timeZone: string;
}

export async function getClosure(db: DbOrTx, id: number) {
  const [row] = await db.select().from(studioClosures).where(eq(studioClosures.id, id));
  return row;
}

/** One keyset page of passes (by id) checked against the closure; the ones it applies to are extended. */
export async function applyClosureChunk(
  db: DbOrTx,
  w: ClosureWindow,
): Promise<{ read: number; written: number; lastKey: string | null } | { missing: true }> {
  const closure = await getClosure(db, w.closureId);
  if (!closure) return { missing: true };
  const { start, end } = dayRange(closure.startsOn, closure.endsOn, w.timeZone);
  const tz = w.timeZone;
  const rows = await db.execute<{ read: number; written: number; last_key: string | null }>(sql`
    WITH page AS (
      SELECT id, started_at, ended_at FROM passes
      WHERE id > ${w.after ?? '0'}::bigint AND id <= ${w.upTo ?? '9223372036854775807'}::bigint
        AND status <> 'EXPIRED' AND ended_at IS NOT NULL
        AND started_at < ${instant(end)} AND ended_at > ${instant(start)}
      ORDER BY id
      LIMIT ${w.limit}
      FOR UPDATE
    ), owed AS (
      SELECT page.id AS pass_id, (
        SELECT count(*) FROM generate_series(
          greatest(${closure.startsOn}::date, (page.started_at AT TIME ZONE ${tz})::date),
          least(${closure.endsOn}::date, ((page.ended_at - interval '1 microsecond') AT TIME ZONE ${tz})::date),
          interval '1 day') g(d)
        WHERE NOT ${heldOn(sql`page.id`, sql`g.d::date`)})::int AS days
      FROM page
    ), recorded AS (
      INSERT INTO closure_extensions (closure_id, pass_id, days)
      SELECT ${w.closureId}::bigint, pass_id, days FROM owed WHERE days > 0
      ON CONFLICT (closure_id, pass_id) DO NOTHING
      RETURNING pass_id, days
    ), extended AS (
      UPDATE passes p SET ended_at = ${shiftEnd(sql`p.ended_at`, sql`r.days`, tz)}, modified_at = now()
      FROM recorded r
      WHERE p.id = r.pass_id
      RETURNING p.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM extended)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key`);
  const row = rows[0];
  return { read: Number(row?.read ?? 0), written: Number(row?.written ?? 0), lastKey: row?.last_key ?? null };
}

export type ClosureOutcome = { ok: true; id: number } | { ok: false; problem: string };

/** Records a closure; refuses one overlapping another (a day is closed once). */
export async function insertClosure(
  db: DbOrTx,
  closure: { startsOn: string; endsOn: string; reason: string; createdBy: string },
): Promise<ClosureOutcome> {
  const [overlap] = await db.execute<{ id: number; starts_on: string; ends_on: string }>(sql`
    SELECT id, starts_on::text, ends_on::text FROM studio_closures
    WHERE starts_on <= ${closure.endsOn}::date AND ends_on >= ${closure.startsOn}::date LIMIT 1`);
  if (overlap) {
    return {
      ok: false,
      problem: `the studio is already closed from ${overlap.starts_on} to ${overlap.ends_on} (closure ${overlap.id})`,
    };
  }
  const [row] = await db.insert(studioClosures).values(closure).returning({ id: studioClosures.id });
  return { ok: true, id: row!.id };
}

/** Closures newest first, with how many passes each extended and how many bookings fall inside it. */
export async function listClosures(db: DbOrTx, options: { limit: number; timeZone: string }) {
  const rows = await db
    .select({
      id: studioClosures.id,
      startsOn: studioClosures.startsOn,
      endsOn: studioClosures.endsOn,
      reason: studioClosures.reason,
      createdBy: studioClosures.createdBy,
      createdAt: studioClosures.createdAt,
      passesExtended: sql<number>`(SELECT count(*)::int FROM closure_extensions ce WHERE ce.closure_id = ${studioClosures.id})`,
    })
    .from(studioClosures)
    .orderBy(desc(studioClosures.id))
    .limit(options.limit);
  const result = [];
  for (const row of rows) {
    const { start, end } = dayRange(row.startsOn, row.endsOn, options.timeZone);
    const [count] = await db.execute<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM bookings
      WHERE status <> 'CANCELLED' AND started_at >= ${instant(start)} AND started_at < ${instant(end)}`);
    result.push({ ...row, bookingsInside: Number(count?.n ?? 0) });
  }
  return result;
}

/** Bookings (not cancelled) whose class starts inside the closure: for the studio to cancel. */
export async function bookingsInClosure(db: DbOrTx, closureId: number, timeZone: string) {
  const closure = await getClosure(db, closureId);
  if (!closure) return undefined;
  const { start, end } = dayRange(closure.startsOn, closure.endsOn, timeZone);
  const rows = await db.execute<{
    id: number;
    user_id: number;
    pass_id: number | null;
    status: string;
    started_at: string;
  }>(sql`
    SELECT id, user_id, pass_id, status, started_at::text FROM bookings
    WHERE status <> 'CANCELLED' AND started_at >= ${instant(start)} AND started_at < ${instant(end)}
    ORDER BY started_at, id`);
  return {
    closure,
    bookings: rows.map((r) => ({
      id: Number(r.id),
      userId: Number(r.user_id),
      passId: r.pass_id === null ? null : Number(r.pass_id),
      status: r.status,
      startedAt: new Date(r.started_at),
    })),
  };
}
