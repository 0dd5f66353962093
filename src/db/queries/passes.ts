import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { afterKey, type ChunkCounts, type ChunkWindow, chunkCounts, upToKey } from './keyset.ts';

/**
 * Pass lifecycle rules, one set-based statement per chunk. Each statement reads a keyset page
 * (`id > after ORDER BY id LIMIT n`, never OFFSET), and its UPDATE re-checks the rule in its own WHERE
 * clause, so a pass changed by someone else after the page was read is left alone.
 */

/** A timestamptz parameter for raw SQL (the postgres.js driver of Drizzle passes dates as text). */
export const instant = (at: Date) => sql`${at.toISOString()}::timestamptz`;

/** READY passes whose start is at or before T become PROGRESSED. */
export function activatePassesChunk(db: DbOrTx, w: ChunkWindow): Promise<ChunkCounts> {
  return chunkCounts(
    db,
    sql`
    WITH page AS (
      SELECT id FROM passes
      WHERE status = 'READY' AND started_at <= ${instant(w.asOf)}
        AND id > ${afterKey(w)} AND id <= ${upToKey(w)}
      ORDER BY id
      LIMIT ${w.limit}
      FOR UPDATE
    ), changed AS (
      UPDATE passes p SET status = 'PROGRESSED', modified_at = now()
      FROM page
      WHERE p.id = page.id AND p.status = 'READY' AND p.started_at <= ${instant(w.asOf)}
      RETURNING p.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM changed)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key`,
  );
}

/**
 * PROGRESSED passes that ended at or before T, or have no sessions left, become EXPIRED at T.
 * Unlimited passes (no end, no count) never match.
 */
export function expirePassesChunk(db: DbOrTx, w: ChunkWindow): Promise<ChunkCounts> {
  return chunkCounts(
    db,
    sql`
    WITH page AS (
      SELECT id FROM passes
      WHERE status = 'PROGRESSED' AND (ended_at <= ${instant(w.asOf)} OR remaining_count = 0)
        AND id > ${afterKey(w)} AND id <= ${upToKey(w)}
      ORDER BY id
      LIMIT ${w.limit}
      FOR UPDATE
    ), changed AS (
      UPDATE passes p SET status = 'EXPIRED', expired_at = ${instant(w.asOf)}, modified_at = now()
      FROM page
      WHERE p.id = page.id AND p.status = 'PROGRESSED' AND (p.ended_at <= ${instant(w.asOf)} OR p.remaining_count = 0)
      RETURNING p.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM changed)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key`,
  );
}

/** Key bounds of the passes table, for splitting a step into parallel key-range partitions. */
export async function passKeyRange(db: DbOrTx): Promise<{ min: string; max: string } | null> {
  const rows = await db.execute<{ min: string | null; max: string | null }>(
    sql`SELECT min(id)::text AS min, max(id)::text AS max FROM passes`,
  );
  const row = rows[0];
  return row?.min && row.max ? { min: row.min, max: row.max } : null;
}
