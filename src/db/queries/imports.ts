import { and, eq, type SQL, sql } from 'drizzle-orm';
import type postgres from 'postgres';
import { IMPORT_COLUMNS, type ImportKind, importJobName } from '../../jobs/imports.ts';
import type { DbOrTx } from '../client.ts';
import { imports } from '../schema.ts';

/**
 * Imports (README "Imports"): a file's records are staged as text rows by COPY, then the import job walks
 * them in line order (keyset on the line number): one statement per chunk checks every row, upserts the good
 * ones and returns the bad ones with their reasons (`importMemberPage`, `importBookingPage`). Both the
 * validation rules and the write rules are the SQL here. Staged values are already trimmed (src/client/import-file.ts).
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
  const table = STAGED_TABLE[file.kind];
  const staged = await client.begin(async (tx) => {
    const [row] = await tx<Array<{ id: string }>>`
      INSERT INTO imports (kind, file_name, column_count)
      VALUES (${file.kind}, ${file.fileName}, ${file.columnCount}) RETURNING id::text`;
    const importId = Number(row!.id);
    const columns = ['import_id', 'line', 'field_count', ...stagedColumns(file.kind)];
    const rowCount = await copyRows(tx, table, columns, importId, records);
    await tx`UPDATE imports SET row_count = ${rowCount} WHERE id = ${importId}`;
    return { importId, rowCount };
  });
  // The planner's statistics of the staged table, now, not at autovacuum's next pass: statistics taken
  // while it held a few rows of an earlier small import made every chunk of a first large one plan its
  // duplicate check for a few rows (a 60,000-row members import: 3 minutes and heartbeat timeouts, instead
  // of 6 s). A few tens of milliseconds for any size (ANALYZE samples 30,000 rows).
  // Only a speed-up: the import is staged whatever becomes of it.
  if (staged.rowCount >= ANALYZE_FROM_ROWS) await client.unsafe(`ANALYZE ${table}`).catch(() => undefined);
  return staged;
}

/** Staged files from this many rows on get fresh planner statistics (below, any plan is fast). */
const ANALYZE_FROM_ROWS = 1_000;

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

/**
 * The staged lines of an import, first and last, and how many (`row_count`): what its job's partitions
 * split (README "Imports"). Null when the import has no rows (or is gone).
 */
export async function stagedLineRange(
  db: DbOrTx,
  importId: number,
): Promise<{ min: string; max: string; rows: number } | null> {
  const found = await findImport(db, importId);
  if (!found) return null;
  const rows = await db.execute<{ min: string | null; max: string | null }>(sql`
    SELECT min(line)::text AS min, max(line)::text AS max FROM ${sql.raw(STAGED_TABLE[found.kind])}
    WHERE import_id = ${importId}`);
  const range = rows[0];
  return range?.min && range.max ? { min: range.min, max: range.max, rows: found.rowCount } : null;
}

export async function findImport(db: DbOrTx, importId: number) {
  const [row] = await db.select().from(imports).where(eq(imports.id, importId));
  return row;
}

/**
 * Marks an import done with the run's counts and when (its job's last finish: what the retention age counts
 * from). Repeated by a retried step, it sets the same counts.
 */
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
      importedAt: sql`now()`,
      modifiedAt: sql`now()`,
    })
    .where(and(eq(imports.id, importId)));
}

/**
 * One chunk of an import job: a keyset page of staged rows (`line > after`, in line order), validated and
 * upserted by one statement. Each row gets the first reason it fails, in the order the rules are listed below;
 * the good rows are upserted; the bad ones come back as skips `{ line, reason }` (the step runner records
 * them in the chunk's transaction). Reasons name the field and never repeat a name or phone number.
 */
export interface ImportPage {
  importId: number;
  /** The checkpoint: the last line done; null from the start. */
  after: string | null;
  /** The last line of this partition (inclusive); null for no bound. */
  upTo?: string | null;
  limit: number;
}

export interface ImportPageResult {
  /** Staged rows in the page. */
  read: number;
  /** The page's last line; null when the page was empty. */
  lastLine: string | null;
  /** Rows inserted or changed (an unchanged row is not touched). */
  written: number;
  skipped: Array<{ line: number; reason: string }>;
}

/**
 * The length JavaScript gives a string (UTF-16 code units: a character outside the Basic Multilingual Plane
 * counts twice) is over `n`. Only strings of more than `n` bytes are counted.
 */
const longerThan = (column: string, n: number) =>
  `(octet_length(${column}) > ${n} AND char_length(${column}) + regexp_count(${column}, '[\\U00010000-\\U0010FFFF]') > ${n})`;

/**
 * A word in upper case as JavaScript's `toUpperCase` makes it, as far as the result can be ASCII: in a word
 * with non-ASCII characters those whose upper case is ASCII letters are spelled out first; then ASCII is
 * upper-cased (`COLLATE "C"`, whatever the database's locale). So `actıve` is ACTIVE, as it always was.
 */
const upperWord = (expr: string) =>
  sql.raw(`upper(CASE WHEN octet_length(${expr}) = char_length(${expr}) THEN ${expr}
    ELSE translate(replace(replace(replace(replace(replace(replace(replace(replace(${expr}, 'ß', 'ss'), 'ﬀ', 'ff'),
         'ﬁ', 'fi'), 'ﬂ', 'fl'), 'ﬃ', 'ffi'), 'ﬄ', 'ffl'), 'ﬅ', 'st'), 'ﬆ', 'st'), 'ıſ', 'is') END COLLATE "C")`);

/** A flag word in lower case; no non-ASCII character lowers into one of the flag words but the Kelvin sign (k). */
const lowerWord = (expr: string) => sql.raw(`lower(${expr} COLLATE "C")`);

/** The rules every kind of row shares: the field count, the external id (present, short, first in the file). */
const commonReasons = sql.raw(`
      WHEN p.field_count <> p.column_count
        THEN format('has %s fields; the header has %s', p.field_count, p.column_count)
      WHEN coalesce(p.external_id, '') = '' THEN 'external_id is empty'
      WHEN ${longerThan('p.external_id', 100)} THEN 'external_id is longer than 100 characters'
      WHEN p.first_line IS NOT NULL
        THEN format('external_id %s is also on line %s, which is the one imported', p.external_id, p.first_line)`);

/** An earlier line of the same file with the same external id: the row is a duplicate. */
const firstLine = (table: string) =>
  sql.raw(`(SELECT d.line FROM ${table} d
             WHERE d.import_id = r.import_id AND d.external_id = r.external_id AND d.line < r.line
             ORDER BY d.line LIMIT 1)`);

/**
 * The chunk's page of staged rows `r` of `table`, in line order after the checkpoint: `columns`, with the
 * row's field count, the header's column count and the first line of the file with the same external id.
 */
const stagedPage = (table: 'import_member_rows' | 'import_booking_rows', columns: SQL, w: ImportPage) => sql`
        SELECT r.line, r.field_count, i.column_count, ${columns}, ${firstLine(table)} AS first_line
        FROM ${sql.raw(table)} r
        JOIN imports i ON i.id = r.import_id
        WHERE r.import_id = ${w.importId} AND r.line > ${w.after ?? '0'}::int
          AND r.line <= ${w.upTo ?? '2147483647'}::int
        ORDER BY r.line
        LIMIT ${w.limit}`;

/** The chunk's outcome from its `checked` (every row of the page), `written` and `skipped` CTEs. */
const pageOutcome = sql.raw(`
    SELECT (SELECT count(*) FROM checked)::int AS read,
           (SELECT max(line) FROM checked)::text AS last_line,
           (SELECT count(*) FROM written)::int AS written,
           (SELECT coalesce(json_agg(json_build_array(line, reason) ORDER BY line), '[]') FROM skipped) AS skipped`);

type OutcomeRow = {
  read: number;
  last_line: string | null;
  written: number;
  skipped: Array<[number, string]>;
};

function outcome(rows: OutcomeRow[]): ImportPageResult {
  const row = rows[0]!;
  return {
    read: Number(row.read),
    lastLine: row.last_line,
    written: Number(row.written),
    skipped: row.skipped.map(([line, reason]) => ({ line: Number(line), reason })),
  };
}

/** A phone number: an optional `+`, a digit, then 2 to 30 digits, spaces and `( ) - .` (imports and the API). */
export const PHONE_PATTERN = /^\+?[0-9][0-9 ().-]{2,30}$/;

/**
 * A phone number as PHONE_PATTERN says, without a regular expression: PostgreSQL's cost ~2 µs a row.
 */
const isPhone = (column: string) => {
  const digits = `CASE WHEN left(${column}, 1) = '+' THEN substr(${column}, 2) ELSE ${column} END`;
  return sql.raw(`(char_length(${digits}) BETWEEN 3 AND 31 AND ascii(${digits}) BETWEEN 48 AND 57
    AND translate(${digits}, '0123456789 ().-', '') = '')`);
};

/**
 * Members: the common rules; a name (at most 200 characters); a phone of digits, spaces and `+ ( ) - .`
 * when given; a status ACTIVE or INACTIVE in any case (default ACTIVE). Then the good rows are upserted by
 * external id: a new member is inserted, a changed one updated, an unchanged one not touched (its
 * `modified_at` stays).
 */
export async function importMemberPage(db: DbOrTx, w: ImportPage): Promise<ImportPageResult> {
  const rows = await db.execute<OutcomeRow>(sql`
    WITH checked AS MATERIALIZED (
      SELECT p.line, p.external_id, p.name, p.phone, p.status_word,
        CASE ${commonReasons}
          WHEN coalesce(p.name, '') = '' THEN 'name is empty'
          WHEN ${sql.raw(longerThan('p.name', 200))} THEN 'name is longer than 200 characters'
          WHEN NOT ${isPhone('p.phone')} THEN 'phone is not a phone number (digits, spaces, + ( ) - .)'
          WHEN p.status_word NOT IN ('ACTIVE', 'INACTIVE')
            THEN format('status ''%s'' is not ACTIVE or INACTIVE', p.status)
        END AS reason
      FROM (${stagedPage(
        'import_member_rows',
        sql`r.external_id, r.name, r.phone, r.status, ${upperWord(`coalesce(r.status, 'ACTIVE')`)} AS status_word`,
        w,
      )}) p
    ), written AS (
      INSERT INTO users AS u (external_id, name, phone, status)
      SELECT external_id, name, phone, status_word::user_status FROM checked WHERE reason IS NULL ORDER BY line
      ON CONFLICT (external_id) DO UPDATE
        SET name = excluded.name, phone = excluded.phone, status = excluded.status, modified_at = now()
        WHERE (u.name, u.phone, u.status) IS DISTINCT FROM (excluded.name, excluded.phone, excluded.status)
      RETURNING 1
    ), skipped AS (
      SELECT line, reason FROM checked WHERE reason IS NOT NULL
    )
    ${pageOutcome}`);
  return outcome(rows);
}

/**
 * A staged time as `parseInstant` (src/time.ts) reads it; NULL when it is not a time: `YYYY-MM-DD[T ]HH:MM
 * [:SS[.fraction]][Z|±HH[:]MM]` with a real calendar day in year 100 or later, hour 0–23, minute and second
 * 0–59, an offset of at most ±23:59 (what `INSTANT_PATTERN` checks, but for the days of a month). With `Z` or
 * an offset it is that instant, to the millisecond (the fraction's first three digits); without one it is the
 * wall-clock time, to the second, in the business time zone, found as `zonedTimeToInstant` finds it: the
 * zone's offset at the time read as UTC, then the offset at that first guess.
 *
 * Once the text is known good, PostgreSQL's `timestamp` input reads the time without its offset, to the
 * millisecond (~0.6 µs a field, measured; `timestamptz` input refuses offsets over 15 hours), and the offset is
 * subtracted. Cutting out every part and assembling the instant cost ~11 µs a field; `regexp_match` with
 * captures ~180 µs.
 */
const INSTANT_PATTERN =
  '^(0[1-9]|[1-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]' +
  '(:[0-5][0-9](\\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?$';

function instant(t: string, timeZone: string) {
  // Where an offset's sign is after the minutes (no other + or - follows them; at 16 + sign in the text);
  // 0: none. The time before the offset or Z ends at 15 + sign, and is cut after milliseconds (23 characters).
  const sign = `greatest(strpos(substr(${t}, 17), '+'), strpos(substr(${t}, 17), '-'))`;
  // Without an offset the fraction is dropped: the first 19 characters are the time to the second.
  const naive = `left(${t}, 19)::timestamp`;
  const asUtc = `(${naive} AT TIME ZONE 'UTC')`;
  const guess = sql`(${sql.raw(asUtc)} - ((${sql.raw(asUtc)} AT TIME ZONE ${timeZone}) - ${sql.raw(naive)}))`;
  return sql`CASE
      WHEN NOT ${sql.raw(t)} ~ ${INSTANT_PATTERN} THEN NULL
      WHEN ${sql.raw(`substr(${t}, 9, 2)::int > 28 AND substr(${t}, 9, 2)::int
             > extract(day FROM make_date(substr(${t}, 1, 4)::int, substr(${t}, 6, 2)::int, 1) + interval '1 month' - interval '1 day')`)}
        THEN NULL
      WHEN ${sql.raw(`right(${t}, 1) = 'Z'`)}
        THEN ${sql.raw(`left(${t}, least(char_length(${t}) - 1, 23))::timestamp AT TIME ZONE 'UTC'`)}
      WHEN ${sql.raw(`${sign} = 0`)}
        THEN ${sql.raw(asUtc)} - ((${guess} AT TIME ZONE ${timeZone}) - (${guess} AT TIME ZONE 'UTC'))
      ELSE ${sql.raw(`(left(${t}, least(15 + ${sign}, 23))::timestamp AT TIME ZONE 'UTC')
        - (CASE substr(${t}, 16 + ${sign}, 1) WHEN '-' THEN -1 ELSE 1 END)
          * (substr(${t}, 17 + ${sign}, 2)::int * interval '1 hour' + right(${t}, 2)::int * interval '1 minute')`)}
    END`;
}

/** An instant as JavaScript's `toISOString` writes it: `2026-05-01T01:00:00.000Z`. */
const isoString = (expr: string) =>
  sql.raw(`to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

const BOOKING_STATUSES = ['READY', 'PROGRESSED', 'COMPLETED', 'CANCELLED'];
const TRUE_WORDS = `'true', 'yes', 'y', '1'`;
const FLAG_WORDS = `${TRUE_WORDS}, 'false', 'no', 'n', '0'`;
const timeReason = (field: string) =>
  sql.raw(
    `format('${field} ''%s'' is not a time such as 2026-11-22 10:00 or 2026-11-22T10:00:00+09:00', p.${field})`,
  );

/** A pass `p` is valid at the class time `i.started_at`: started, not ended, not expired before it. */
const validAtClass = (p: string) =>
  sql.raw(`${p}.started_at <= i.started_at AND (${p}.ended_at IS NULL OR ${p}.ended_at > i.started_at)
    AND (${p}.expired_at IS NULL OR ${p}.expired_at > i.started_at)`);

/**
 * Bookings: the common rules; a member external id of a member in ptpass; a `pass_id` that is a whole
 * number when given; `starts_at` and `ends_at` given and times, `cancelled_at` a time when given (see
 * `instant`); the end after the start; a status READY, PROGRESSED, COMPLETED or CANCELLED in any case (default
 * READY), CANCELLED only with `cancelled_at`; `attended` and `used_pass` true/yes/y/1 or false/no/n/0 in any
 * case (default false). Then the upsert by external id, with the pass: the row's `pass_id` when given (it must
 * be the member's and valid at the class time); otherwise the pass an existing booking of the same member
 * already has; otherwise the member's pass valid at the class time that ends soonest (open-ended last, then
 * the oldest). A row that finds no pass is skipped. A booking whose session was already taken (`used_pass`)
 * or that ptpass recorded as a late cancel keeps its pass, status, cancellation and charge; `used_pass` never
 * goes back to false, so a re-import can never charge a session twice. Unchanged bookings are not touched.
 */
export async function importBookingPage(
  db: DbOrTx,
  w: ImportPage & { timeZone: string },
): Promise<ImportPageResult> {
  const rows = await db.execute<OutcomeRow>(sql`
    WITH checked AS MATERIALIZED (
      SELECT p.line, p.external_id, p.member_external_id, p.user_id, p.pass_id, p.started_at, p.ended_at,
             p.cancelled, p.status_word, p.attended_word, p.used_pass_word,
        CASE ${commonReasons}
          WHEN coalesce(p.member_external_id, '') = '' THEN 'member_external_id is empty'
          WHEN p.user_id IS NULL THEN format('no member has external_id %s', p.member_external_id)
          WHEN p.pass_id !~ '^[1-9][0-9]{0,14}$'
            THEN format('pass_id ''%s'' is not a pass id (a whole number)', p.pass_id)
          WHEN p.starts_at IS NOT NULL AND p.started_at IS NULL THEN ${timeReason('starts_at')}
          WHEN p.starts_at IS NULL THEN 'starts_at is empty'
          WHEN p.ends_at IS NOT NULL AND p.ended_at IS NULL THEN ${timeReason('ends_at')}
          WHEN p.ends_at IS NULL THEN 'ends_at is empty'
          WHEN p.cancelled_at IS NOT NULL AND p.cancelled IS NULL THEN ${timeReason('cancelled_at')}
          WHEN p.ended_at <= p.started_at THEN 'ends_at is not after starts_at'
          WHEN p.status_word NOT IN (${sql.raw(BOOKING_STATUSES.map((s) => `'${s}'`).join(', '))})
            THEN format('status ''%s'' is not one of ${sql.raw(BOOKING_STATUSES.join(', '))}', p.status)
          WHEN p.status_word = 'CANCELLED' AND p.cancelled_at IS NULL THEN 'status CANCELLED needs cancelled_at'
          WHEN p.attended_word NOT IN (${sql.raw(FLAG_WORDS)})
            THEN format('attended ''%s'' is not true or false', p.attended)
          WHEN p.used_pass_word NOT IN (${sql.raw(FLAG_WORDS)})
            THEN format('used_pass ''%s'' is not true or false', p.used_pass)
        END AS reason
      -- OFFSET 0 keeps the parsed values a subquery of their own: each is computed once, not again in the rules.
      FROM (
      SELECT p.*,
             -- One index lookup per row (a hash join reads every member for each chunk).
             (SELECT u.id FROM users u WHERE u.external_id = p.member_external_id) AS user_id,
             ${instant('p.starts_at', w.timeZone)} AS started_at,
             ${instant('p.ends_at', w.timeZone)} AS ended_at,
             ${instant('p.cancelled_at', w.timeZone)} AS cancelled,
             ${upperWord(`coalesce(p.status, 'READY')`)} AS status_word,
             ${lowerWord('p.attended')} AS attended_word,
             ${lowerWord('p.used_pass')} AS used_pass_word
      FROM (${stagedPage(
        'import_booking_rows',
        sql`r.external_id, r.member_external_id, r.pass_id, r.starts_at, r.ends_at, r.status, r.attended,
            r.used_pass, r.cancelled_at`,
        w,
      )}) p
      OFFSET 0
      ) p
    ), resolved AS (
      -- Each lookup runs only for the rows that need it.
      SELECT i.*,
             CASE WHEN i.pass_id IS NOT NULL
               THEN (SELECT given.id FROM passes given
                     WHERE given.id = i.pass_id::bigint AND given.user_id = i.user_id AND ${validAtClass('given')})
               ELSE coalesce(
                 (SELECT kept.pass_id FROM bookings kept
                  WHERE kept.external_id = i.external_id AND kept.user_id = i.user_id),
                 (SELECT p.id FROM passes p
                  WHERE p.user_id = i.user_id AND ${validAtClass('p')}
                  ORDER BY p.ended_at NULLS LAST, p.id
                  LIMIT 1))
             END AS resolved
      FROM checked i
      WHERE i.reason IS NULL
    ), written AS (
      INSERT INTO bookings AS b
        (external_id, user_id, pass_id, status, attended, used_pass, started_at, ended_at, cancelled_at)
      SELECT external_id, user_id, resolved, status_word::booking_status,
             coalesce(attended_word IN (${sql.raw(TRUE_WORDS)}), false),
             coalesce(used_pass_word IN (${sql.raw(TRUE_WORDS)}), false),
             started_at, ended_at, cancelled
      FROM resolved WHERE resolved IS NOT NULL
      ORDER BY line
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
      RETURNING 1
    ), skipped AS (
      SELECT line, reason FROM checked WHERE reason IS NOT NULL
      UNION ALL
      SELECT line,
             CASE WHEN pass_id IS NULL
               THEN format('member %s has no pass valid at %s; give a pass_id', member_external_id, ${isoString('started_at')})
               ELSE format('pass %s is not a pass of member %s valid at %s', pass_id, member_external_id, ${isoString('started_at')})
             END
      FROM resolved WHERE resolved IS NULL
    )
    ${pageOutcome}`);
  return outcome(rows);
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
