import { type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';

/**
 * Keyset paging for chunk statements, in one place: the window a chunk reads (`key > after`, `key <= upTo`
 * of its partition, `LIMIT n`, never OFFSET) and the counts its statement returns. Keys are bigint IDs.
 */

export interface ChunkWindow {
  asOf: Date;
  /** Exclusive lower key bound (the checkpoint); null from the start. */
  after: string | null;
  /** Inclusive upper key bound of a partition; null for no bound. */
  upTo: string | null;
  limit: number;
}

export interface ChunkCounts {
  /** Rows in the page. */
  read: number;
  /** Rows this chunk changed. */
  written: number;
  /** Largest key in the page; null when the page was empty. */
  lastKey: string | null;
}

/** The exclusive lower bound of the window (the checkpoint), as a bigint. */
export const afterKey = (w: Pick<ChunkWindow, 'after'>) => sql`${w.after ?? '0'}::bigint`;

/** The inclusive upper bound of the window's partition, as a bigint (no bound: the largest bigint). */
export const upToKey = (w: Pick<ChunkWindow, 'upTo'>) => sql`${w.upTo ?? '9223372036854775807'}::bigint`;

/**
 * Runs a chunk statement that returns one row `(read, written, last_key)` and reads it as counts;
 * an empty result reads as an empty page.
 */
export async function chunkCounts(db: DbOrTx, query: SQL): Promise<ChunkCounts> {
  const rows = await db.execute<{ read: number; written: number; last_key: string | null }>(query);
  const row = rows[0];
  return { read: Number(row?.read ?? 0), written: Number(row?.written ?? 0), lastKey: row?.last_key ?? null };
}

/**
 * The planner's estimate of the rows `query` returns (`EXPLAIN`, no execution: a millisecond or two,
 * whatever the table size), from the statistics autovacuum keeps. What a step's partition count is chosen
 * from (`estimateRows` of a step handler).
 */
export async function plannedRows(db: DbOrTx, query: SQL): Promise<number> {
  const rows = await db.execute<{ 'QUERY PLAN': unknown }>(sql`EXPLAIN (FORMAT JSON) ${query}`);
  const raw = rows[0]?.['QUERY PLAN'];
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{
    Plan?: { 'Plan Rows'?: number };
  }>;
  return Math.round(plan[0]?.Plan?.['Plan Rows'] ?? 0);
}

/**
 * Whether `query` finds any row (`SELECT EXISTS`, which stops at the first): what a step's `hasWork` asks
 * before a run schedules the step at all.
 */
export async function anyRow(db: DbOrTx, query: SQL): Promise<boolean> {
  const rows = await db.execute<{ found: boolean }>(sql`SELECT EXISTS (${query}) AS found`);
  return rows[0]?.found === true;
}
