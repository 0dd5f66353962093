import { type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import {
  afterKey,
  anyRow,
  type ChunkCounts,
  type ChunkWindow,
  chunkCounts,
  plannedRows,
  upToKey,
} from './keyset.ts';

/**
 * Pass lifecycle rules, one set-based statement per chunk. Each statement reads a keyset page
 * (`id > after ORDER BY id LIMIT n`, never OFFSET), and its UPDATE re-checks the rule in its own WHERE
 * clause, so a pass changed by someone else after the page was read is left alone (the UPDATE waits for
 * that change's lock and re-evaluates the rule on the new row; the page itself takes no lock, which cost a
 * third of a chunk: README "Performance").
 */

/** A timestamptz parameter for raw SQL (the postgres.js driver of Drizzle passes dates as text). */
export const instant = (at: Date) => sql`${at.toISOString()}::timestamptz`;

/**
 * The due-row conditions repeated as expressions with their own statistics (`CREATE STATISTICS` in
 * drizzle/0007_lifecycle-statistics-sql.sql). Plain column statistics cannot know that only READY passes'
 * starts matter (every PROGRESSED and EXPIRED pass started in the past), so the planner would expect most
 * rows to be due and walk every READY/PROGRESSED pass in id order. With these it knows how many are due:
 * a run that finds few reads them from the partial indexes `passes_ready_start_idx` and
 * `passes_progressed_end_idx`, and a run with many walks the id order as before.
 */
const readyStart = sql.raw(`(CASE WHEN status = 'READY' THEN started_at END)`);
const progressedEnd = sql.raw(`(CASE WHEN status = 'PROGRESSED' THEN ended_at END)`);

/** READY passes whose start has come by T. */
const dueToActivate = (asOf: Date) =>
  sql`status = 'READY' AND started_at <= ${instant(asOf)} AND ${readyStart} <= ${instant(asOf)}`;
/** PROGRESSED passes that ended by T (the expiry rule's first arm). */
const endedBy = (asOf: Date) =>
  sql`status = 'PROGRESSED' AND ended_at <= ${instant(asOf)} AND ${progressedEnd} <= ${instant(asOf)}`;
/** PROGRESSED passes with no sessions left that did not end by T (the second arm, disjoint from the first). */
const usedUpNotEndedBy = (asOf: Date) =>
  sql`status = 'PROGRESSED' AND remaining_count = 0 AND (ended_at IS NULL OR ended_at > ${instant(asOf)})`;

/**
 * The planner's estimate of the passes `activate` changes as of T. The expression alone, whose statistics
 * know it: with the plain column conditions beside it the planner multiplies their selectivities as if
 * independent and undercounts (measured: 152,000 estimated for 250,000 due; the expression alone: 304,000).
 */
export function estimateActivations(db: DbOrTx, asOf: Date): Promise<number> {
  return plannedRows(db, sql`SELECT id FROM passes WHERE ${readyStart} <= ${instant(asOf)}`);
}

/** The planner's estimate of the passes `expire` changes as of T (the expression alone, as above). */
export async function estimateExpiries(db: DbOrTx, asOf: Date): Promise<number> {
  const ended = await plannedRows(db, sql`SELECT id FROM passes WHERE ${progressedEnd} <= ${instant(asOf)}`);
  const usedUp = await plannedRows(db, sql`SELECT id FROM passes WHERE ${usedUpNotEndedBy(asOf)}`);
  return ended + usedUp;
}

/** Whether any pass is due to start as of T (from `passes_ready_start_idx`, stopping at the first). */
export function anyDueToActivate(db: DbOrTx, asOf: Date): Promise<boolean> {
  return anyRow(db, sql`SELECT 1 FROM passes WHERE ${dueToActivate(asOf)}`);
}

/** Whether any pass is due to expire as of T (either rule, each from its partial index). */
export function anyDueToExpire(db: DbOrTx, asOf: Date): Promise<boolean> {
  return anyRow(
    db,
    sql`SELECT 1 FROM passes WHERE ${endedBy(asOf)} UNION ALL SELECT 1 FROM passes WHERE ${usedUpNotEndedBy(asOf)}`,
  );
}

/** READY passes whose start is at or before T become PROGRESSED. */
export function activatePassesChunk(db: DbOrTx, w: ChunkWindow): Promise<ChunkCounts> {
  return chunkCounts(db, activatePassesStatement(w));
}

/** `activatePassesChunk`'s statement (exported for the plan checks in test/chunk-plans.test.ts). */
export function activatePassesStatement(w: ChunkWindow): SQL {
  return sql`
    WITH page AS (
      SELECT id FROM passes
      WHERE ${dueToActivate(w.asOf)} AND id > ${afterKey(w)} AND id <= ${upToKey(w)}
      ORDER BY id
      LIMIT ${w.limit}
    ), changed AS (
      UPDATE passes p SET status = 'PROGRESSED', modified_at = now()
      FROM page
      WHERE p.id = page.id AND p.status = 'READY' AND p.started_at <= ${instant(w.asOf)}
      RETURNING p.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM changed)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key`;
}

/**
 * PROGRESSED passes that ended at or before T, or have no sessions left, become EXPIRED at T.
 * Unlimited passes (no end, no count) never match.
 */
export function expirePassesChunk(db: DbOrTx, w: ChunkWindow): Promise<ChunkCounts> {
  return chunkCounts(db, expirePassesStatement(w));
}

/** `expirePassesChunk`'s statement (exported for the plan checks in test/chunk-plans.test.ts). */
export function expirePassesStatement(w: ChunkWindow): SQL {
  return sql`
    WITH page AS (
      -- Two arms, one per rule, so each can read only its due rows from its partial index
      -- (passes_progressed_end_idx, passes_progressed_used_up_idx): an OR over both columns misleads
      -- the planner into walking every PROGRESSED pass. The arms are disjoint (the second takes only the
      -- passes the first does not), so both stream in id order into one merge, with no sort or
      -- de-duplication of the page.
      SELECT id FROM (
        (SELECT id FROM passes
         WHERE ${endedBy(w.asOf)} AND id > ${afterKey(w)} AND id <= ${upToKey(w)}
         ORDER BY id LIMIT ${w.limit})
        UNION ALL
        (SELECT id FROM passes
         WHERE ${usedUpNotEndedBy(w.asOf)} AND id > ${afterKey(w)} AND id <= ${upToKey(w)}
         ORDER BY id LIMIT ${w.limit})
      ) due
      ORDER BY id
      LIMIT ${w.limit}
    ), changed AS (
      UPDATE passes p SET status = 'EXPIRED', expired_at = ${instant(w.asOf)}, modified_at = now()
      FROM page
      WHERE p.id = page.id AND p.status = 'PROGRESSED' AND (p.ended_at <= ${instant(w.asOf)} OR p.remaining_count = 0)
      RETURNING p.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM changed)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key`;
}

/** Key bounds of the passes table, for splitting a step into parallel key-range partitions. */
export async function passKeyRange(db: DbOrTx): Promise<{ min: string; max: string } | null> {
  const rows = await db.execute<{ min: string | null; max: string | null }>(
    sql`SELECT min(id)::text AS min, max(id)::text AS max FROM passes`,
  );
  const row = rows[0];
  return row?.min && row.max ? { min: row.min, max: row.max } : null;
}
