import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { addDays, businessDayOf, isBusinessDay, startOfBusinessDay } from '../../time.ts';
import type { Db, DbOrTx } from '../client.ts';
import { passes, passHolds } from '../schema.ts';
import { instant } from './passes.ts';

/**
 * Holds (freezes) of a pass, and the rules shared with studio closures (src/db/queries/closures.ts).
 * See README "Holds and studio closures".
 *
 * A hold covers business days `starts_on..ends_on` (BUSINESS_TIMEZONE, inclusive). Adding it moves the
 * pass's end later by its held days — the same wall-clock time N business days on — except days a studio
 * closure already extended this pass for (a day is never paid back twice). While on hold the pass cannot be
 * booked (`bookingRefusal`). Ending a hold early on day D makes D the first usable day again and moves the
 * end back by the days D..ends_on that the hold had added. An unlimited-by-time pass (no end) can be held
 * (it cannot be booked meanwhile); its end stays unset.
 */

/** The longest hold or closure, in days: a longer one is a typing mistake. */
export const MAX_RANGE_DAYS = 366;

/** The end moved by `days` business days: the same wall-clock time in the zone, across DST changes. */
export const shiftEnd = (column: ReturnType<typeof sql>, days: ReturnType<typeof sql>, timeZone: string) =>
  sql`((${column} AT TIME ZONE ${timeZone}) + make_interval(days => ${days})) AT TIME ZONE ${timeZone}`;

/** A day is held when a hold of the pass covers it: from `starts_on` up to the day before `ended_early_on`. */
export const heldOn = (passId: ReturnType<typeof sql>, day: ReturnType<typeof sql>) => sql`EXISTS (
  SELECT 1 FROM pass_holds h
  WHERE h.pass_id = ${passId} AND ${day} >= h.starts_on
    AND ${day} < coalesce(h.ended_early_on, h.ends_on + 1))`;

/** A day is closed for a pass when a closure that extended it covers the day. */
export const closedFor = (passId: ReturnType<typeof sql>, day: ReturnType<typeof sql>) => sql`EXISTS (
  SELECT 1 FROM closure_extensions ce JOIN studio_closures c ON c.id = ce.closure_id
  WHERE ce.pass_id = ${passId} AND ${day} BETWEEN c.starts_on AND c.ends_on)`;

/** Days from..to (inclusive) that no closure already extended this pass for. */
async function daysToExtend(db: DbOrTx, passId: number, from: string, to: string): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`
    SELECT count(*)::int AS n FROM generate_series(${from}::date, ${to}::date, interval '1 day') g(d)
    WHERE NOT ${closedFor(sql`${passId}::bigint`, sql`g.d::date`)}`);
  return Number(row?.n ?? 0);
}

export interface NewHold {
  passId: number;
  startsOn: string;
  endsOn: string;
  reason: string;
  createdBy: string;
}

export type HoldRow = typeof passHolds.$inferSelect;

export type HoldOutcome =
  | { ok: true; hold: HoldRow; endedAt: Date | null; previousEndedAt: Date | null }
  | { ok: false; problem: string };

/** Checks that need no database; the message names the option as `ptpass holds add` spells it. */
export function checkHoldShape(hold: Omit<NewHold, 'passId'>): string | undefined {
  for (const [name, day] of [
    ['from', hold.startsOn],
    ['to', hold.endsOn],
  ] as const) {
    if (!isBusinessDay(day)) return `--${name} '${day}' is not a calendar day YYYY-MM-DD`;
  }
  if (hold.endsOn < hold.startsOn) return `--to ${hold.endsOn} is before --from ${hold.startsOn}`;
  if (hold.endsOn > addDays(hold.startsOn, MAX_RANGE_DAYS - 1))
    return `the range is longer than ${MAX_RANGE_DAYS} days`;
  if (hold.reason.trim() === '') return '--reason is required';
  if (hold.reason.length > 200) return '--reason is longer than 200 characters';
  if (hold.createdBy.trim() === '' || hold.createdBy.length > 100) return '--by must be 1 to 100 characters';
  return undefined;
}

/**
 * Puts a pass on hold: checks, moves the end and records the hold in one transaction with the pass row
 * locked, so two holds added at once cannot both pass the overlap check.
 */
export async function addHold(db: Db, hold: NewHold, timeZone: string): Promise<HoldOutcome> {
  const shape = checkHoldShape(hold);
  if (shape) return { ok: false, problem: shape };
  return db.transaction(async (tx): Promise<HoldOutcome> => {
    const [pass] = await tx.select().from(passes).where(eq(passes.id, hold.passId)).for('update');
    if (!pass) return { ok: false, problem: `pass ${hold.passId} does not exist` };
    if (pass.status === 'EXPIRED')
      return { ok: false, problem: `pass ${pass.id} has expired; it cannot be held` };
    const firstDay = businessDayOf(pass.startedAt, timeZone);
    if (hold.startsOn < firstDay)
      return { ok: false, problem: `--from ${hold.startsOn} is before pass ${pass.id} starts (${firstDay})` };
    if (pass.endedAt) {
      const lastDay = businessDayOf(new Date(pass.endedAt.getTime() - 1), timeZone);
      if (hold.startsOn > lastDay)
        return { ok: false, problem: `--from ${hold.startsOn} is after pass ${pass.id} ends (${lastDay})` };
    }
    const [overlap] = await tx.execute<{ id: number; starts_on: string; ends_on: string }>(sql`
      SELECT id, starts_on::text, ends_on::text FROM pass_holds
      WHERE pass_id = ${pass.id} AND starts_on <= ${hold.endsOn}::date
        AND coalesce(ended_early_on, ends_on + 1) > ${hold.startsOn}::date
      LIMIT 1`);
    if (overlap) {
      return {
        ok: false,
        problem: `pass ${pass.id} is already on hold from ${overlap.starts_on} to ${overlap.ends_on} (hold ${overlap.id})`,
      };
    }
    const days = await daysToExtend(tx, pass.id, hold.startsOn, hold.endsOn);
    const [moved] = await tx.execute<{ ended_at: string | null }>(sql`
      UPDATE passes SET ended_at = ${shiftEnd(sql`ended_at`, sql`${days}::int`, timeZone)}, modified_at = now()
      WHERE id = ${pass.id} RETURNING ended_at::text`);
    const [row] = await tx
      .insert(passHolds)
      .values({ ...hold, extendedDays: days })
      .returning();
    return {
      ok: true,
      hold: row!,
      previousEndedAt: pass.endedAt,
      endedAt: moved?.ended_at ? new Date(moved.ended_at) : null,
    };
  });
}

/**
 * Ends a hold early: `on` is the first day the pass is usable again (today by default). The end moves back
 * by the days `on..ends_on` the hold had added. Ending it on or before its first day cancels it whole.
 */
export async function endHold(
  db: Db,
  input: { holdId: number; on: string },
  timeZone: string,
): Promise<HoldOutcome> {
  if (!isBusinessDay(input.on))
    return { ok: false, problem: `--on '${input.on}' is not a calendar day YYYY-MM-DD` };
  return db.transaction(async (tx): Promise<HoldOutcome> => {
    const [found] = await tx.select().from(passHolds).where(eq(passHolds.id, input.holdId));
    if (!found) return { ok: false, problem: `hold ${input.holdId} does not exist` };
    const [pass] = await tx.select().from(passes).where(eq(passes.id, found.passId)).for('update');
    const [hold] = await tx.select().from(passHolds).where(eq(passHolds.id, input.holdId)).for('update');
    if (!pass || !hold) return { ok: false, problem: `hold ${input.holdId} does not exist` };
    if (hold.endedEarlyOn !== null)
      return { ok: false, problem: `hold ${hold.id} was already ended on ${hold.endedEarlyOn}` };
    if (input.on > hold.endsOn)
      return {
        ok: false,
        problem: `the day to end hold ${hold.id} on, ${input.on}, is after its last day (${hold.endsOn}): nothing is left to end`,
      };
    // biome-ignore lint/complexity/useMathMinMax: business days are YYYY-MM-DD strings, not numbers.
    const on = input.on < hold.startsOn ? hold.startsOn : input.on;
    const unused = Math.min(hold.extendedDays, await daysToExtend(tx, pass.id, on, hold.endsOn));
    const [moved] = await tx.execute<{ ended_at: string | null }>(sql`
      UPDATE passes SET ended_at = ${shiftEnd(sql`ended_at`, sql`${-unused}::int`, timeZone)}, modified_at = now()
      WHERE id = ${pass.id} RETURNING ended_at::text`);
    const [row] = await tx
      .update(passHolds)
      .set({ endedEarlyOn: on, extendedDays: hold.extendedDays - unused, modifiedAt: new Date() })
      .where(eq(passHolds.id, hold.id))
      .returning();
    return {
      ok: true,
      hold: row!,
      previousEndedAt: pass.endedAt,
      endedAt: moved?.ended_at ? new Date(moved.ended_at) : null,
    };
  });
}

/** Holds newest first, of one pass or of all. */
export async function listHolds(db: DbOrTx, options: { passId?: number | undefined; limit: number }) {
  return db
    .select({
      id: passHolds.id,
      passId: passHolds.passId,
      userId: passes.userId,
      startsOn: passHolds.startsOn,
      endsOn: passHolds.endsOn,
      endedEarlyOn: passHolds.endedEarlyOn,
      extendedDays: passHolds.extendedDays,
      reason: passHolds.reason,
      createdBy: passHolds.createdBy,
      createdAt: passHolds.createdAt,
      passEndedAt: passes.endedAt,
    })
    .from(passHolds)
    .innerJoin(passes, eq(passes.id, passHolds.passId))
    .where(options.passId === undefined ? undefined : and(eq(passHolds.passId, options.passId)))
    .orderBy(desc(passHolds.id))
    .limit(options.limit);
}

/** The holds of a pass in day order (the member page, the booking check). */
export async function holdsOfPass(db: DbOrTx, passId: number) {
  return db.select().from(passHolds).where(eq(passHolds.passId, passId)).orderBy(asc(passHolds.startsOn));
}

export type BookingRefusal =
  | { ok: true }
  | {
      ok: false;
      reason: 'no-such-pass' | 'not-started' | 'expired' | 'ended' | 'no-sessions' | 'on-hold';
      message: string;
    };

/**
 * Whether a pass can be booked for a class starting at `startsAt`: it exists, is not EXPIRED, has started
 * and not ended by then, has a session left, and is not on hold on the class's business day. The one rule
 * every booking surface asks (the HTTP API's booking endpoint, the admin web).
 */
export async function bookingRefusal(
  db: DbOrTx,
  passId: number,
  startsAt: Date,
  timeZone: string,
): Promise<BookingRefusal> {
  const day = businessDayOf(startsAt, timeZone);
  const [row] = await db.execute<{
    status: string;
    started: boolean;
    ended: boolean;
    remaining_count: number | null;
    hold_id: number | null;
    hold_ends_on: string | null;
  }>(sql`
    SELECT p.status, p.started_at <= ${instant(startsAt)} AS started,
           (p.ended_at IS NOT NULL AND p.ended_at <= ${instant(startsAt)}) AS ended, p.remaining_count,
           h.id AS hold_id, (coalesce(h.ended_early_on, h.ends_on + 1) - 1)::text AS hold_ends_on
    FROM passes p
    LEFT JOIN LATERAL (
      SELECT id, ended_early_on, ends_on FROM pass_holds h
      WHERE h.pass_id = p.id AND ${day}::date >= h.starts_on AND ${day}::date < coalesce(h.ended_early_on, h.ends_on + 1)
      LIMIT 1) h ON true
    WHERE p.id = ${passId}`);
  if (!row) return { ok: false, reason: 'no-such-pass', message: `pass ${passId} does not exist` };
  if (row.hold_id !== null)
    return {
      ok: false,
      reason: 'on-hold',
      message: `pass ${passId} is on hold until ${row.hold_ends_on} (hold ${row.hold_id})`,
    };
  if (row.status === 'EXPIRED')
    return { ok: false, reason: 'expired', message: `pass ${passId} has expired` };
  if (!row.started)
    return { ok: false, reason: 'not-started', message: `pass ${passId} has not started by then` };
  if (row.ended) return { ok: false, reason: 'ended', message: `pass ${passId} has ended by then` };
  if (row.remaining_count === 0)
    return { ok: false, reason: 'no-sessions', message: `pass ${passId} has no sessions left` };
  return { ok: true };
}

/** The first instant of a day and of the day after: a range of business days as [start, end). */
export function dayRange(from: string, to: string, timeZone: string): { start: Date; end: Date } {
  return { start: startOfBusinessDay(from, timeZone), end: startOfBusinessDay(addDays(to, 1), timeZone) };
}
