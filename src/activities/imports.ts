import type { Tx } from '../db/client.ts';
import {
  type BookingUpsert,
  findImport,
  finishImport,
  type MemberUpsert,
  readBookingPage,
  readMemberPage,
  type StagedBookingRow,
  type StagedMemberRow,
  upsertBookings,
  upsertMembers,
} from '../db/queries/imports.ts';
import type { ImportParams } from '../jobs/imports.ts';
import { parseInstant } from '../time.ts';
import type { ChunkResult, StepHandler } from './step-runner.ts';

/**
 * Steps of the `import-members` and `import-bookings` jobs. Each chunk reads a page of staged rows in line
 * order, checks every row's fields here (each bad row becomes a skip record keyed by its line, with the
 * reason), and upserts the good ones in one statement (src/db/queries/imports.ts). README "Imports".
 */

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

export function checkMember(row: StagedMemberRow, columnCount: number): Checked<MemberUpsert> {
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

export function checkBooking(
  row: StagedBookingRow,
  columnCount: number,
  timeZone: string,
): Checked<BookingUpsert> {
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

/** The import's header width, read once per chunk (the import row is tiny and does not change). */
async function columnCountOf(tx: Tx, importId: number): Promise<number> {
  const found = await findImport(tx, importId);
  if (!found) throw new Error(`import ${importId} does not exist`);
  return found.columnCount;
}

function pageResult(
  rows: Array<{ line: number }>,
  written: number,
  skipped: Array<{ key: string; reason: string }>,
): ChunkResult {
  return { read: rows.length, written, lastKey: rows.length ? String(rows.at(-1)!.line) : null, skipped };
}

const finishStep: StepHandler<ImportParams>['finish'] = (db, ctx, totals) =>
  finishImport(db, ctx.params.importId, totals);

export const importMembersSteps: Record<string, StepHandler<ImportParams>> = {
  upsert: {
    async chunk(tx, ctx) {
      const importId = ctx.params.importId;
      const rows = await readMemberPage(tx, { importId, after: ctx.after, limit: ctx.limit });
      if (rows.length === 0) return pageResult(rows, 0, []);
      const columnCount = await columnCountOf(tx, importId);
      const good: MemberUpsert[] = [];
      const skipped: Array<{ key: string; reason: string }> = [];
      for (const row of rows) {
        const checked = checkMember(row, columnCount);
        if (checked.ok) good.push(checked.value);
        else skipped.push({ key: String(row.line), reason: checked.reason });
      }
      return pageResult(rows, await upsertMembers(tx, good), skipped);
    },
    finish: finishStep,
  },
};

export const importBookingsSteps = (timeZone: string): Record<string, StepHandler<ImportParams>> => ({
  upsert: {
    async chunk(tx, ctx) {
      const importId = ctx.params.importId;
      const rows = await readBookingPage(tx, { importId, after: ctx.after, limit: ctx.limit });
      if (rows.length === 0) return pageResult(rows, 0, []);
      const columnCount = await columnCountOf(tx, importId);
      const good: BookingUpsert[] = [];
      const skipped: Array<{ key: string; reason: string }> = [];
      for (const row of rows) {
        const checked = checkBooking(row, columnCount, timeZone);
        if (checked.ok) good.push(checked.value);
        else skipped.push({ key: String(row.line), reason: checked.reason });
      }
      const { written, noPass } = await upsertBookings(tx, good);
      const byLine = new Map(rows.map((r) => [r.line, r]));
      for (const { line, passId } of noPass) {
        const row = byLine.get(line)!;
        const member = row.member_external_id;
        const at = good.find((g) => g.line === line)!.started_at;
        skipped.push({
          key: String(line),
          reason:
            passId === null
              ? `member ${member} has no pass valid at ${at}; give a pass_id`
              : `pass ${passId} is not a pass of member ${member} valid at ${at}`,
        });
      }
      skipped.sort((a, b) => Number(a.key) - Number(b.key));
      return pageResult(rows, written, skipped);
    },
    finish: finishStep,
  },
});
