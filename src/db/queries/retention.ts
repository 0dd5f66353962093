import { type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { anyRow, type ChunkCounts, chunkCounts } from './keyset.ts';

/**
 * What `prune-run-records` deletes once it is older than the retention age (README "Retention"): the
 * bookkeeping that would otherwise grow without bound. Each statement deletes one keyset page; the page's
 * rows leave the table, and the checkpoint (the page's last key) lets a dry run, which deletes nothing,
 * walk on. Members, passes, bookings, notifications and the API's audit rows (`api_writes`) are the
 * studio's records and are never pruned.
 */

export interface PruneWindow {
  /** Rows older than this go. */
  cutoff: Date;
  after: string | null;
  limit: number;
}

const cutoffOf = (w: Pick<PruneWindow, 'cutoff'>) => sql`${w.cutoff.toISOString()}::timestamptz`;

/**
 * A finished job run that ended before the cutoff: never one still RUNNING, nor an earlier run of an
 * instance that is running again (a restart continues from the earlier runs' step records).
 */
const oldRun = (w: Pick<PruneWindow, 'cutoff'>, alias: string) => {
  const j = sql.raw(alias);
  return sql`${j}.status <> 'RUNNING' AND ${j}.ended_at < ${cutoffOf(w)}
    AND NOT EXISTS (SELECT 1 FROM job_runs again WHERE again.workflow_id = ${j}.workflow_id AND again.status = 'RUNNING')`;
};

export const anyOldJobRun = (db: DbOrTx, w: Pick<PruneWindow, 'cutoff'>) =>
  anyRow(db, sql`SELECT 1 FROM job_runs j WHERE ${oldRun(w, 'j')}`);

/**
 * Deletes one keyset page of `table` by its `id` key: the rows `old` selects, after the checkpoint `after`
 * (the key's type), `old` checked again as they are deleted. `lastKey` is the page's largest key as text.
 */
function deletePageById(
  db: DbOrTx,
  w: PruneWindow,
  q: { table: 'job_runs' | 'imports'; old: (alias: string) => SQL; after: SQL; lastKey: SQL },
): Promise<ChunkCounts> {
  const table = sql.raw(q.table);
  return chunkCounts(
    db,
    sql`
    WITH page AS (
      SELECT id FROM ${table} x WHERE ${q.old('x')} AND id > ${q.after} ORDER BY id LIMIT ${w.limit}
    ), deleted AS (
      DELETE FROM ${table} x USING page WHERE x.id = page.id AND ${q.old('x')}
      RETURNING x.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM deleted)::int AS written,
           (SELECT ${q.lastKey} FROM page) AS last_key`,
  );
}

/**
 * One page of finished job runs that ended before the cutoff, deleted (their step runs and skip records go
 * with them by cascade). Keyed by the run ID.
 */
export function pruneJobRunsChunk(db: DbOrTx, w: PruneWindow): Promise<ChunkCounts> {
  return deletePageById(db, w, {
    table: 'job_runs',
    old: (alias) => oldRun(w, alias),
    after: sql`${w.after ?? '00000000-0000-0000-0000-000000000000'}::uuid`,
    // UUIDs as text sort as the UUIDs do (fixed-width lower-case hex).
    lastKey: sql`max(id::text)`,
  });
}

/** The checkpoint of a page keyed by a bigint and a text: `[1, "key"]`. */
function pairKey(after: string | null): { id: string; text: string } | null {
  if (after === null) return null;
  const parsed = JSON.parse(after) as unknown;
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new Error(`not a pair checkpoint: ${after}`);
  return { id: String(parsed[0]), text: String(parsed[1]) };
}

const oldIdempotencyKey = (w: Pick<PruneWindow, 'cutoff'>) => sql`k.created_at < ${cutoffOf(w)}`;

export const anyOldIdempotencyKey = (db: DbOrTx, w: Pick<PruneWindow, 'cutoff'>) =>
  anyRow(db, sql`SELECT 1 FROM api_idempotency_keys k WHERE ${oldIdempotencyKey(w)}`);

/**
 * One page of the API's `Idempotency-Key` records first used before the cutoff, deleted: a repeat of such
 * a key is then a new request. Keyed by the primary key (token, key); the checkpoint is `[token, key]`.
 */
export function pruneIdempotencyKeysChunk(db: DbOrTx, w: PruneWindow): Promise<ChunkCounts> {
  const after = pairKey(w.after);
  const afterCondition: SQL = after
    ? sql`AND (k.token_id, k.key) > (${after.id}::bigint, ${after.text}::text)`
    : sql``;
  return chunkCounts(
    db,
    sql`
    WITH page AS (
      SELECT k.token_id, k.key FROM api_idempotency_keys k
      WHERE ${oldIdempotencyKey(w)} ${afterCondition}
      ORDER BY k.token_id, k.key
      LIMIT ${w.limit}
    ), deleted AS (
      DELETE FROM api_idempotency_keys k USING page
      WHERE k.token_id = page.token_id AND k.key = page.key AND ${oldIdempotencyKey(w)}
      RETURNING 1
    ), last AS (
      SELECT token_id, key FROM page ORDER BY token_id DESC, key DESC LIMIT 1
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM deleted)::int AS written,
           (SELECT json_build_array(token_id, key)::text FROM last) AS last_key`,
  );
}

/**
 * An import whose job last finished before the cutoff and is not running again (`--rerun`). One never
 * imported is kept: it may still be.
 */
const oldImport = (w: Pick<PruneWindow, 'cutoff'>, alias: string) => {
  const i = sql.raw(alias);
  return sql`${i}.status = 'IMPORTED' AND ${i}.imported_at < ${cutoffOf(w)}
    AND NOT EXISTS (SELECT 1 FROM job_runs j WHERE j.status = 'RUNNING'
                      AND j.job IN ('import-members', 'import-bookings') AND j.params->>'importId' = ${i}.id::text)`;
};

export const anyOldImport = (db: DbOrTx, w: Pick<PruneWindow, 'cutoff'>) =>
  anyRow(db, sql`SELECT 1 FROM imports i WHERE ${oldImport(w, 'i')}`);

/** The checkpoint of a staged row: `importId:line`. */
function stagedKey(after: string | null): { importId: string; line: string } {
  if (after === null) return { importId: '0', line: '0' };
  const [importId, line] = after.split(':');
  if (!importId || !line || !/^\d+$/.test(importId) || !/^\d+$/.test(line))
    throw new Error(`not a staged-row checkpoint: ${after}`);
  return { importId, line };
}

/**
 * One page of the staged CSV rows (`import_member_rows` or `import_booking_rows`, by the import's kind) of
 * imports finished before the cutoff, deleted: the bulk of an old import, in pages, before
 * `pruneImportsChunk` deletes the import itself. Keyed by (import, line): the page takes the old imports in
 * ID order from the checkpoint's, each read by its primary key from the line after the checkpoint's, until
 * the page is full.
 */
export async function pruneStagedImportRowsChunk(db: DbOrTx, w: PruneWindow): Promise<ChunkCounts> {
  const after = stagedKey(w.after);
  const imports = await db.execute<{ id: string; kind: 'members' | 'bookings' }>(sql`
    SELECT i.id::text AS id, i.kind FROM imports i
    WHERE ${oldImport(w, 'i')} AND i.id >= ${after.importId}::bigint
    ORDER BY i.id
    LIMIT ${w.limit}`);
  const page: ChunkCounts = { read: 0, written: 0, lastKey: null };
  for (const found of imports) {
    const table = sql.raw(found.kind === 'members' ? 'import_member_rows' : 'import_booking_rows');
    const fromLine = found.id === after.importId ? after.line : '0';
    const part = await chunkCounts(
      db,
      sql`
      WITH rows AS (
        SELECT line FROM ${table}
        WHERE import_id = ${found.id}::bigint AND line > ${fromLine}::int
        ORDER BY line
        LIMIT ${w.limit - page.read}
      ), deleted AS (
        DELETE FROM ${table} r USING rows WHERE r.import_id = ${found.id}::bigint AND r.line = rows.line
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM rows)::int AS read,
             (SELECT count(*) FROM deleted)::int AS written,
             (SELECT ${found.id} || ':' || max(line) FROM rows) AS last_key`,
    );
    page.read += part.read;
    page.written += part.written;
    page.lastKey = part.lastKey ?? page.lastKey;
    if (page.read >= w.limit) break;
  }
  return page;
}

/**
 * One page of imports finished before the cutoff, deleted with whatever staged rows they still have (none
 * after `pruneStagedImportRowsChunk`, but a dry run deletes nothing). Keyed by the import ID.
 */
export function pruneImportsChunk(db: DbOrTx, w: PruneWindow): Promise<ChunkCounts> {
  return deletePageById(db, w, {
    table: 'imports',
    old: (alias) => oldImport(w, alias),
    after: sql`${w.after ?? '0'}::bigint`,
    lastKey: sql`max(id)::text`,
  });
}
