import { and, eq, sql } from 'drizzle-orm';
import type postgres from 'postgres';
import { IMPORT_COLUMNS, type ImportKind, importJobName } from '../../jobs/imports.ts';
import type { DbOrTx } from '../client.ts';
import { imports } from '../schema.ts';

/**
 * Imports (README "Imports"): a file's records are staged as text rows by COPY, then the import job walks
 * them in line order (keyset on the line number) and upserts the valid ones set-based, one statement per
 * chunk. The validation rules are in src/activities/imports.ts; the write rules are the SQL here.
 */

const STAGED_TABLE = { members: 'import_member_rows', bookings: 'import_booking_rows' } as const;

/** The staged table's columns after import_id, line and field_count: the file's columns, in order. */
export function stagedColumns(kind: ImportKind): string[] {
  return IMPORT_COLUMNS[kind].map((c) => c.name);
}

export interface StagedRecord {
  line: number;
  fieldCount: number;
  /** The file's fields by column, trimmed; null for an empty field or a column the file does not have. */
  values: Array<string | null>;
}

/** One COPY text-format line (tab-separated, `\N` for null, backslash escapes). */
function copyLine(fields: Array<string | number | null>): string {
  return `${fields
    .map((f) =>
      f === null
        ? '\\N'
        : String(f).replace(
            /[\\\t\n\r]/g,
            (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!,
          ),
    )
    .join('\t')}\n`;
}

/**
 * Stages a file in one transaction: the `imports` row, then every record through `COPY ... FROM STDIN`.
 * If reading the file fails part-way (a malformed CSV, not UTF-8), nothing is kept.
 */
export async function stageImport(
  client: postgres.Sql,
  file: { kind: ImportKind; fileName: string; columnCount: number },
  records: AsyncIterable<StagedRecord>,
): Promise<{ importId: number; rowCount: number }> {
  return client.begin(async (tx) => {
    const [row] = await tx<Array<{ id: string }>>`
      INSERT INTO imports (kind, file_name, column_count)
      VALUES (${file.kind}, ${file.fileName}, ${file.columnCount}) RETURNING id::text`;
    const importId = Number(row!.id);
    const table = STAGED_TABLE[file.kind];
    const columns = ['import_id', 'line', 'field_count', ...stagedColumns(file.kind)];
    const rowCount = await copyRows(tx, table, columns, importId, records);
    await tx`UPDATE imports SET row_count = ${rowCount} WHERE id = ${importId}`;
    return { importId, rowCount };
  });
}

async function copyRows(
  tx: postgres.TransactionSql,
  table: string,
  columns: string[],
  importId: number,
  records: AsyncIterable<StagedRecord>,
): Promise<number> {
  const copy = await tx.unsafe(`COPY ${table} (${columns.join(', ')}) FROM STDIN`).writable();
  let rowCount = 0;
  const finished = new Promise<void>((resolve, reject) => {
    copy.once('finish', resolve);
    copy.once('error', reject);
  });
  // Lines go to the socket in batches of about 64 KiB: one write per record costs more than the COPY.
  let batch = '';
  const flush = async () => {
    const text = batch;
    batch = '';
    if (text && !copy.write(text)) await new Promise<void>((resolve) => copy.once('drain', resolve));
  };
  try {
    for await (const record of records) {
      rowCount++;
      batch += copyLine([importId, record.line, record.fieldCount, ...record.values]);
      if (batch.length >= 65_536) await flush();
    }
    await flush();
  } catch (err) {
    copy.destroy(err instanceof Error ? err : new Error(String(err)));
    await finished.catch(() => {});
    throw err;
  }
  copy.end();
  await finished;
  return rowCount;
}

export async function findImport(db: DbOrTx, importId: number) {
  const [row] = await db.select().from(imports).where(eq(imports.id, importId));
  return row;
}

/** Marks an import done with the run's counts; repeated by a retried step, it sets the same values. */
export async function finishImport(
  db: DbOrTx,
  importId: number,
  totals: { written: number; skipped: number },
): Promise<void> {
  await db
    .update(imports)
    .set({
      status: 'IMPORTED',
      writtenCount: totals.written,
      rejectedCount: totals.skipped,
      importedAt: sql`coalesce(${imports.importedAt}, now())`,
      modifiedAt: sql`now()`,
    })
    .where(and(eq(imports.id, importId)));
}

interface PageWindow {
  importId: number;
  /** The checkpoint: the last line done; null from the start. */
  after: string | null;
  limit: number;
}

/** Fields every staged row has: its line, field count and the line of an earlier row with its external id. */
type StagedBase = {
  line: number;
  field_count: number;
  external_id: string | null;
  /** An earlier line of the same file with the same external id: this row is a duplicate. */
  first_line: number | null;
};

export type StagedMemberRow = StagedBase & {
  name: string | null;
  phone: string | null;
  status: string | null;
};

export type StagedBookingRow = StagedBase & {
  member_external_id: string | null;
  pass_id: string | null;
  starts_at: string | null;
  ends_at: string | null;
  status: string | null;
  attended: string | null;
  used_pass: string | null;
  cancelled_at: string | null;
  /** The member with `member_external_id`, when there is one. */
  user_id: string | null;
};

export async function readMemberPage(db: DbOrTx, w: PageWindow): Promise<StagedMemberRow[]> {
  return db.execute<StagedMemberRow>(sql`
    SELECT r.line, r.field_count, r.external_id, r.name, r.phone, r.status,
           (SELECT d.line FROM import_member_rows d
             WHERE d.import_id = r.import_id AND d.external_id = r.external_id AND d.line < r.line
             ORDER BY d.line LIMIT 1) AS first_line
    FROM import_member_rows r
    WHERE r.import_id = ${w.importId} AND r.line > ${w.after ?? '0'}::int
    ORDER BY r.line
    LIMIT ${w.limit}`);
}

export async function readBookingPage(db: DbOrTx, w: PageWindow): Promise<StagedBookingRow[]> {
  return db.execute<StagedBookingRow>(sql`
    SELECT r.line, r.field_count, r.external_id, r.member_external_id, r.pass_id, r.starts_at, r.ends_at,
           r.status, r.attended, r.used_pass, r.cancelled_at, u.id::text AS user_id,
           (SELECT d.line FROM import_booking_rows d
             WHERE d.import_id = r.import_id AND d.external_id = r.external_id AND d.line < r.line
             ORDER BY d.line LIMIT 1) AS first_line
    FROM import_booking_rows r
    LEFT JOIN users u ON u.external_id = r.member_external_id
    WHERE r.import_id = ${w.importId} AND r.line > ${w.after ?? '0'}::int
    ORDER BY r.line
    LIMIT ${w.limit}`);
}

export interface MemberUpsert {
  external_id: string;
  name: string;
  phone: string | null;
  status: 'ACTIVE' | 'INACTIVE';
}

/**
 * Inserts new members and updates changed ones by external id; a member whose fields are all the same is
 * not touched (its `modified_at` stays). Returns how many rows were written.
 */
export async function upsertMembers(db: DbOrTx, rows: MemberUpsert[]): Promise<number> {
  if (rows.length === 0) return 0;
  const [result] = await db.execute<{ n: number }>(sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS x(external_id text, name text, phone text, status user_status)
    ), written AS (
      INSERT INTO users AS u (external_id, name, phone, status)
      SELECT external_id, name, phone, status FROM input
      ON CONFLICT (external_id) DO UPDATE
        SET name = excluded.name, phone = excluded.phone, status = excluded.status, modified_at = now()
        WHERE (u.name, u.phone, u.status) IS DISTINCT FROM (excluded.name, excluded.phone, excluded.status)
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM written`);
  return Number(result?.n ?? 0);
}

export interface BookingUpsert {
  line: number;
  external_id: string;
  user_id: string;
  pass_id: string | null;
  started_at: string;
  ended_at: string;
  status: 'READY' | 'PROGRESSED' | 'COMPLETED' | 'CANCELLED';
  attended: boolean;
  used_pass: boolean;
  cancelled_at: string | null;
}

/** A pass `p` is valid at the class time `i.started_at`: started, not ended, not expired before it. */
const validAtClass = (p: string) =>
  sql.raw(`${p}.started_at <= i.started_at AND (${p}.ended_at IS NULL OR ${p}.ended_at > i.started_at)
    AND (${p}.expired_at IS NULL OR ${p}.expired_at > i.started_at)`);

/**
 * Upserts bookings by external id. The pass: the row's `pass_id` when given (it must be the member's and
 * valid at the class time); otherwise the pass an existing booking of the same member already has; otherwise
 * the member's pass valid at the class time that ends soonest (open-ended last, then the oldest). A booking
 * whose session was already taken (`used_pass`) or that ptpass recorded as a late cancel keeps its pass,
 * status, cancellation and charge; `used_pass` never goes back to false, so a re-import can never charge a
 * session twice. Unchanged bookings are not touched.
 * Returns the lines that found no pass (with the pass asked for), and how many rows were written.
 */
export async function upsertBookings(
  db: DbOrTx,
  rows: BookingUpsert[],
): Promise<{ written: number; noPass: Array<{ line: number; passId: string | null }> }> {
  if (rows.length === 0) return { written: 0, noPass: [] };
  const result = await db.execute<{
    line: number;
    no_pass: boolean;
    pass_id: string | null;
    written: boolean;
  }>(
    sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS x(line int, external_id text, user_id bigint, pass_id bigint, started_at timestamptz,
             ended_at timestamptz, status booking_status, attended boolean, used_pass boolean,
             cancelled_at timestamptz)
    ), resolved AS (
      SELECT i.*,
             CASE WHEN i.pass_id IS NOT NULL THEN given.id ELSE coalesce(kept.pass_id, chosen.id) END AS resolved
      FROM input i
      LEFT JOIN passes given ON given.id = i.pass_id AND given.user_id = i.user_id AND ${validAtClass('given')}
      LEFT JOIN bookings kept ON kept.external_id = i.external_id AND kept.user_id = i.user_id
      LEFT JOIN LATERAL (
        SELECT p.id FROM passes p
        WHERE i.pass_id IS NULL AND kept.pass_id IS NULL AND p.user_id = i.user_id AND ${validAtClass('p')}
        ORDER BY p.ended_at NULLS LAST, p.id
        LIMIT 1
      ) chosen ON true
    ), written AS (
      INSERT INTO bookings AS b
        (external_id, user_id, pass_id, status, attended, used_pass, started_at, ended_at, cancelled_at)
      SELECT external_id, user_id, resolved, status, attended, used_pass, started_at, ended_at, cancelled_at
      FROM resolved WHERE resolved IS NOT NULL
      ON CONFLICT (external_id) DO UPDATE
        SET user_id = excluded.user_id,
            pass_id = CASE WHEN b.used_pass OR b.late_cancel THEN b.pass_id ELSE excluded.pass_id END,
            status = CASE WHEN b.used_pass OR b.late_cancel THEN b.status ELSE excluded.status END,
            used_pass = b.used_pass OR excluded.used_pass,
            attended = excluded.attended,
            started_at = excluded.started_at,
            ended_at = excluded.ended_at,
            cancelled_at = CASE WHEN b.used_pass OR b.late_cancel THEN b.cancelled_at ELSE excluded.cancelled_at END,
            modified_at = now()
        WHERE (b.user_id, b.pass_id, b.status, b.used_pass, b.attended, b.started_at, b.ended_at, b.cancelled_at)
          IS DISTINCT FROM
              (excluded.user_id, CASE WHEN b.used_pass OR b.late_cancel THEN b.pass_id ELSE excluded.pass_id END,
               CASE WHEN b.used_pass OR b.late_cancel THEN b.status ELSE excluded.status END,
               b.used_pass OR excluded.used_pass, excluded.attended, excluded.started_at, excluded.ended_at,
               CASE WHEN b.used_pass OR b.late_cancel THEN b.cancelled_at ELSE excluded.cancelled_at END)
      RETURNING b.external_id
    )
    SELECT r.line, r.resolved IS NULL AS no_pass, r.pass_id::text AS pass_id, w.external_id IS NOT NULL AS written
    FROM resolved r LEFT JOIN written w ON w.external_id = r.external_id`,
  );
  return {
    written: result.filter((r) => r.written).length,
    noPass: result.filter((r) => r.no_pass).map((r) => ({ line: Number(r.line), passId: r.pass_id })),
  };
}

export interface ImportReject {
  line: number;
  reason: string;
  /** The row's fields as staged, by column name. */
  fields: Record<string, string | null>;
}

/**
 * The rows an import's job rejected, in line order, with their fields: from the skip records of the newest
 * run that is not a dry run (or of the given run, e.g. a dry run's), joined to the staged rows.
 */
export async function listImportRejects(
  db: DbOrTx,
  importId: number,
  kind: ImportKind,
  options: { jobRunId?: string } = {},
): Promise<ImportReject[]> {
  const columns = stagedColumns(kind);
  const run = options.jobRunId
    ? sql`${options.jobRunId}::uuid`
    : sql`(SELECT id FROM job_runs WHERE job = ${importJobName(kind)} AND params->>'importId' = ${String(importId)}
            AND NOT dry_run ORDER BY started_at DESC LIMIT 1)`;
  const rows = await db.execute<Record<string, string | null> & { line: number; reason: string }>(sql`
    SELECT DISTINCT ON (s.item_key::int) s.item_key::int AS line, s.reason,
           ${sql.raw(columns.map((c) => `r.${c}`).join(', '))}
    FROM step_skips s
    JOIN step_runs sr ON sr.id = s.step_run_id
    JOIN ${sql.raw(STAGED_TABLE[kind])} r ON r.import_id = ${importId} AND r.line = s.item_key::int
    WHERE sr.job_run_id = ${run}
    ORDER BY s.item_key::int`);
  return rows.map((row) => ({
    line: Number(row.line),
    reason: row.reason,
    fields: Object.fromEntries(columns.map((c) => [c, row[c] ?? null])),
  }));
}
