import { Readable } from 'node:stream';
import { openImportFile } from '../../src/client/import-file.ts';
import { stageImport } from '../../src/db/queries/imports.ts';
import type { ImportKind } from '../../src/jobs/imports.ts';
import { parseInstant } from '../../src/time.ts';
import type { BenchJob, Sql } from '../jobs.ts';
import { BENCH_TIME_ZONE, referenceSessions, timed } from '../support.ts';

/**
 * `import-members` (100,000 rows at scale 1) and `import-bookings` (200,000 rows for 100,000 members with
 * one pass each). The seed stages a generated CSV file the production way (`openImportFile` + `stageImport`,
 * COPY) and prints how long that took; the arms start from the staged rows. One row in a hundred is bad
 * (no name; an unknown member), so every arm must leave it out. The item is the staged row; its key is the
 * line. The limit arm is one `INSERT ... SELECT ... ON CONFLICT` from the staged table.
 */

const IMPORT_ID = 1;

/**
 * The reference's per-row checks, in JavaScript: what src/db/queries/imports.ts checks in SQL, the same
 * reasons in the same order (ptpass checked rows this way until the checks moved into the chunk statement).
 */

type StagedBase = {
  line: number;
  field_count: number;
  external_id: string | null;
  /** An earlier line of the same file with the same external id: this row is a duplicate. */
  first_line: number | null;
};
type StagedMemberRow = StagedBase & { name: string | null; phone: string | null; status: string | null };
type StagedBookingRow = StagedBase & {
  member_external_id: string | null;
  pass_id: string | null;
  starts_at: string | null;
  ends_at: string | null;
  status: string | null;
  attended: string | null;
  used_pass: string | null;
  cancelled_at: string | null;
  user_id: string | null;
};
type MemberUpsert = {
  external_id: string;
  name: string;
  phone: string | null;
  status: 'ACTIVE' | 'INACTIVE';
};
type BookingUpsert = {
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
};

type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

const reject = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Problems every kind of row can have: a wrong number of fields, no external id, a duplicate. */
function checkCommon(
  row: { field_count: number; external_id: string | null; first_line: number | null },
  columnCount: number,
): string | undefined {
  if (row.field_count !== columnCount) return `has ${row.field_count} fields; the header has ${columnCount}`;
  if (!row.external_id) return 'external_id is empty';
  if (row.external_id.length > 100) return 'external_id is longer than 100 characters';
  if (row.first_line !== null)
    return `external_id ${row.external_id} is also on line ${row.first_line}, which is the one imported`;
  return undefined;
}

const PHONE_RE = /^\+?[0-9][0-9 ().-]{2,30}$/;

function checkMember(row: StagedMemberRow, columnCount: number): Checked<MemberUpsert> {
  const common = checkCommon(row, columnCount);
  if (common) return reject(common);
  // Reasons name the field, never its value: names and phone numbers stay out of logs and run records.
  if (!row.name) return reject('name is empty');
  if (row.name.length > 200) return reject('name is longer than 200 characters');
  if (row.phone !== null && !PHONE_RE.test(row.phone))
    return reject('phone is not a phone number (digits, spaces, + ( ) - .)');
  const status = (row.status ?? 'ACTIVE').toUpperCase();
  if (status !== 'ACTIVE' && status !== 'INACTIVE')
    return reject(`status '${row.status}' is not ACTIVE or INACTIVE`);
  return { ok: true, value: { external_id: row.external_id!, name: row.name, phone: row.phone, status } };
}

const BOOKING_STATUSES = ['READY', 'PROGRESSED', 'COMPLETED', 'CANCELLED'] as const;
const TRUE_WORDS = new Set(['true', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'n', '0']);

function parseFlag(value: string | null): boolean | undefined {
  if (value === null) return false;
  const word = value.toLowerCase();
  return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
}

function checkBooking(row: StagedBookingRow, columnCount: number, timeZone: string): Checked<BookingUpsert> {
  const common = checkCommon(row, columnCount);
  if (common) return reject(common);
  if (!row.member_external_id) return reject('member_external_id is empty');
  if (row.user_id === null) return reject(`no member has external_id ${row.member_external_id}`);
  if (row.pass_id !== null && !/^[1-9]\d{0,14}$/.test(row.pass_id))
    return reject(`pass_id '${row.pass_id}' is not a pass id (a whole number)`);
  const instant = (field: 'starts_at' | 'ends_at' | 'cancelled_at'): Date | string | undefined => {
    const text = row[field];
    if (text === null) return undefined;
    return (
      parseInstant(text, timeZone) ??
      `${field} '${text}' is not a time such as 2026-11-22 10:00 or 2026-11-22T10:00:00+09:00`
    );
  };
  const startsAt = instant('starts_at');
  const endsAt = instant('ends_at');
  const cancelledAt = instant('cancelled_at');
  for (const [field, value] of [
    ['starts_at', startsAt],
    ['ends_at', endsAt],
    ['cancelled_at', cancelledAt],
  ] as const) {
    if (typeof value === 'string') return reject(value);
    if (value === undefined && field !== 'cancelled_at') return reject(`${field} is empty`);
  }
  const starts = startsAt as Date;
  const ends = endsAt as Date;
  if (ends.getTime() <= starts.getTime()) return reject('ends_at is not after starts_at');
  const status = (row.status ?? 'READY').toUpperCase() as BookingUpsert['status'];
  if (!BOOKING_STATUSES.includes(status))
    return reject(`status '${row.status}' is not one of ${BOOKING_STATUSES.join(', ')}`);
  if (status === 'CANCELLED' && cancelledAt === undefined)
    return reject('status CANCELLED needs cancelled_at');
  const attended = parseFlag(row.attended);
  if (attended === undefined) return reject(`attended '${row.attended}' is not true or false`);
  const usedPass = parseFlag(row.used_pass);
  if (usedPass === undefined) return reject(`used_pass '${row.used_pass}' is not true or false`);
  return {
    ok: true,
    value: {
      line: row.line,
      external_id: row.external_id!,
      user_id: row.user_id,
      pass_id: row.pass_id,
      started_at: starts.toISOString(),
      ended_at: ends.toISOString(),
      status,
      attended,
      used_pass: usedPass,
      cancelled_at: cancelledAt instanceof Date ? cancelledAt.toISOString() : null,
    },
  };
}

async function stage(sql: Sql, kind: ImportKind, csv: string): Promise<number> {
  const staged = await timed(async () => {
    const file = await openImportFile(kind, Readable.from([Buffer.from(csv)]));
    return stageImport(sql, { kind, fileName: `${kind}.csv`, columnCount: file.columnCount }, file.records);
  });
  const rows = staged.value.rowCount;
  console.log(
    `  ${kind}: staged ${rows.toLocaleString('en-US')} rows (CSV parse + COPY) in ${staged.seconds.toFixed(2)} s`,
  );
  return rows;
}

const upToLine = (upTo: number | undefined) => upTo ?? 2_147_483_647;

export const importMembersBench: BenchJob = {
  job: 'import-members',
  unit: 'rows',
  tables: ['import_member_rows', 'imports', 'users'],
  async seed(sql, scale) {
    const n = Math.max(5, Math.round(100_000 * scale));
    const lines = ['external_id,name,phone,status'];
    for (let g = 1; g <= n; g++) {
      const name = g % 100 === 0 ? '' : `회원 ${g}`;
      lines.push(
        `m${g},${name},010-${String(g % 10000).padStart(4, '0')}-0000,${g % 50 === 0 ? 'INACTIVE' : 'ACTIVE'}`,
      );
    }
    const rows = await stage(sql, 'members', `${lines.join('\r\n')}\r\n`);
    await sql`ANALYZE`;
    return { items: rows };
  },
  async limit(sql, _asOf, { upTo }) {
    const written = await sql`
      INSERT INTO users AS u (external_id, name, phone, status)
      SELECT r.external_id, r.name, r.phone, coalesce(upper(r.status), 'ACTIVE')::user_status
      FROM import_member_rows r
      WHERE r.import_id = ${IMPORT_ID} AND r.name IS NOT NULL AND r.line <= ${upToLine(upTo)}
      ORDER BY r.line
      ON CONFLICT (external_id) DO UPDATE
        SET name = excluded.name, phone = excluded.phone, status = excluded.status, modified_at = now()
        WHERE (u.name, u.phone, u.status) IS DISTINCT FROM (excluded.name, excluded.phone, excluded.status)`;
    return written.count;
  },
  /** A cursor over the staged rows; per row, the same checks in JavaScript and one upsert; commit every 5. */
  async reference(url, _asOf, cap) {
    const { reader, writer, end } = referenceSessions(url);
    let processed = 0;
    let lastKey = 0;
    try {
      const [header] = await reader<
        { column_count: number }[]
      >`SELECT column_count FROM imports WHERE id = ${IMPORT_ID}`;
      await reader.begin(async (r) => {
        const cursor = r<
          Parameters<typeof checkMember>[0][]
        >`SELECT line, field_count, external_id, name, phone, status, NULL::int AS first_line
          FROM import_member_rows WHERE import_id = ${IMPORT_ID} ORDER BY line`.cursor(5);
        for await (const rows of cursor) {
          await writer.begin(async (w) => {
            for (const row of rows) {
              const checked = checkMember(row, header!.column_count);
              if (!checked.ok) continue;
              const m = checked.value;
              await w`
                INSERT INTO users AS u (external_id, name, phone, status)
                VALUES (${m.external_id}, ${m.name}, ${m.phone}, ${m.status})
                ON CONFLICT (external_id) DO UPDATE
                  SET name = excluded.name, phone = excluded.phone, status = excluded.status, modified_at = now()
                  WHERE (u.name, u.phone, u.status) IS DISTINCT FROM (excluded.name, excluded.phone, excluded.status)`;
            }
          });
          processed += rows.length;
          lastKey = Number(rows[rows.length - 1]!.line);
          if (processed >= cap) break;
        }
      });
    } finally {
      await end();
    }
    return { processed, lastKey };
  },
  async fingerprint(sql, upTo) {
    const [row] = await sql<{ hash: string }[]>`
      SELECT md5(coalesce(string_agg(u.external_id || ':' || u.name || ':' || coalesce(u.phone, '-') || ':' || u.status,
                                     ',' ORDER BY u.external_id), '')) AS hash
      FROM users u JOIN import_member_rows r ON r.import_id = ${IMPORT_ID} AND r.external_id = u.external_id
      WHERE r.line <= ${upToLine(upTo)}`;
    return row!.hash;
  },
  params: () => ({ importId: IMPORT_ID }),
  settings(partitions, chunkSize) {
    return { steps: { upsert: { partitions, ...(chunkSize ? { chunkSize } : {}) } } };
  },
};

const validAt = (p: string) =>
  `${p}.started_at <= r.starts_at::timestamptz AND (${p}.ended_at IS NULL OR ${p}.ended_at > r.starts_at::timestamptz)
   AND (${p}.expired_at IS NULL OR ${p}.expired_at > r.starts_at::timestamptz)`;

export const importBookingsBench: BenchJob = {
  job: 'import-bookings',
  unit: 'rows',
  tables: ['bookings', 'import_booking_rows', 'imports', 'passes', 'packages', 'users'],
  async seed(sql, scale) {
    const members = Math.max(5, Math.round(100_000 * scale));
    const n = Math.max(5, Math.round(200_000 * scale));
    await sql`
      INSERT INTO users (external_id, name, phone)
      SELECT 'm' || g, '회원 ' || g, '010-0000-' || lpad((g % 10000)::text, 4, '0') FROM generate_series(1, ${members}) g`;
    await sql`INSERT INTO packages (name, session_count, period_days) VALUES ('PT 10', 10, 365)`;
    await sql`
      INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at)
      SELECT id, 1, 'PROGRESSED', 10, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z' FROM users`;
    const lines = ['external_id,member_external_id,starts_at,ends_at,attended'];
    const base = Date.UTC(2026, 2, 1);
    for (let g = 1; g <= n; g++) {
      const member = g % 100 === 0 ? 'nobody' : `m${1 + (g % members)}`;
      const start = new Date(base + (g % 2000) * 3_600_000);
      const end = new Date(start.getTime() + 3_600_000);
      lines.push(`b${g},${member},${start.toISOString()},${end.toISOString()},${g % 3 === 0 ? 'yes' : 'no'}`);
    }
    const rows = await stage(sql, 'bookings', `${lines.join('\n')}\n`);
    await sql`ANALYZE`;
    return { items: rows };
  },
  async limit(sql, _asOf, { upTo }) {
    const written = await sql`
      INSERT INTO bookings AS b
        (external_id, user_id, pass_id, status, attended, used_pass, started_at, ended_at, cancelled_at)
      SELECT r.external_id, u.id, p.id, coalesce(upper(r.status), 'READY')::booking_status,
             coalesce(lower(r.attended) IN ('true', 'yes', 'y', '1'), false),
             coalesce(lower(r.used_pass) IN ('true', 'yes', 'y', '1'), false),
             r.starts_at::timestamptz, r.ends_at::timestamptz, r.cancelled_at::timestamptz
      FROM import_booking_rows r
      JOIN users u ON u.external_id = r.member_external_id
      JOIN LATERAL (
        SELECT p.id FROM passes p WHERE p.user_id = u.id AND ${sql.unsafe(validAt('p'))}
        ORDER BY p.ended_at NULLS LAST, p.id LIMIT 1
      ) p ON true
      WHERE r.import_id = ${IMPORT_ID} AND r.line <= ${upToLine(upTo)}
      ORDER BY r.line
      ON CONFLICT (external_id) DO UPDATE
        SET user_id = excluded.user_id, pass_id = excluded.pass_id, status = excluded.status,
            attended = excluded.attended, started_at = excluded.started_at, ended_at = excluded.ended_at,
            modified_at = now()
        WHERE (b.user_id, b.pass_id, b.status, b.attended, b.started_at, b.ended_at)
          IS DISTINCT FROM (excluded.user_id, excluded.pass_id, excluded.status, excluded.attended,
                            excluded.started_at, excluded.ended_at)`;
    return written.count;
  },
  /** A cursor over the staged rows; per row, the checks, a member and a pass lookup, one upsert; commit every 5. */
  async reference(url, _asOf, cap) {
    const { reader, writer, end } = referenceSessions(url);
    let processed = 0;
    let lastKey = 0;
    try {
      const [header] = await reader<
        { column_count: number }[]
      >`SELECT column_count FROM imports WHERE id = ${IMPORT_ID}`;
      await reader.begin(async (r) => {
        const cursor = r<Parameters<typeof checkBooking>[0][]>`
          SELECT line, field_count, external_id, member_external_id, pass_id, starts_at, ends_at, status,
                 attended, used_pass, cancelled_at, NULL::text AS user_id, NULL::int AS first_line
          FROM import_booking_rows WHERE import_id = ${IMPORT_ID} ORDER BY line`.cursor(5);
        for await (const rows of cursor) {
          await writer.begin(async (w) => {
            for (const row of rows) {
              const [user] = await w<
                { id: string }[]
              >`SELECT id::text FROM users WHERE external_id = ${row.member_external_id}`;
              const checked = checkBooking(
                { ...row, user_id: user?.id ?? null },
                header!.column_count,
                BENCH_TIME_ZONE,
              );
              if (!checked.ok) continue;
              const b = checked.value;
              const [pass] = await w<{ id: string }[]>`
                SELECT p.id FROM passes p
                WHERE p.user_id = ${b.user_id} AND p.started_at <= ${b.started_at}
                  AND (p.ended_at IS NULL OR p.ended_at > ${b.started_at})
                  AND (p.expired_at IS NULL OR p.expired_at > ${b.started_at})
                ORDER BY p.ended_at NULLS LAST, p.id LIMIT 1`;
              if (!pass) continue;
              await w`
                INSERT INTO bookings AS bk
                  (external_id, user_id, pass_id, status, attended, used_pass, started_at, ended_at, cancelled_at)
                VALUES (${b.external_id}, ${b.user_id}, ${pass.id}, ${b.status}, ${b.attended}, ${b.used_pass},
                        ${b.started_at}, ${b.ended_at}, ${b.cancelled_at})
                ON CONFLICT (external_id) DO NOTHING`;
            }
          });
          processed += rows.length;
          lastKey = Number(rows[rows.length - 1]!.line);
          if (processed >= cap) break;
        }
      });
    } finally {
      await end();
    }
    return { processed, lastKey };
  },
  async fingerprint(sql, upTo) {
    const [row] = await sql<{ hash: string }[]>`
      SELECT md5(coalesce(string_agg(b.external_id || ':' || b.user_id || ':' || b.pass_id || ':' || b.status || ':'
                 || b.attended || ':' || b.used_pass || ':' || extract(epoch FROM b.started_at) || ':'
                 || extract(epoch FROM b.ended_at), ',' ORDER BY b.external_id), '')) AS hash
      FROM bookings b JOIN import_booking_rows r ON r.import_id = ${IMPORT_ID} AND r.external_id = b.external_id
      WHERE r.line <= ${upToLine(upTo)}`;
    return row!.hash;
  },
  params: () => ({ importId: IMPORT_ID }),
  settings(partitions, chunkSize) {
    return { steps: { upsert: { partitions, ...(chunkSize ? { chunkSize } : {}) } } };
  },
};
