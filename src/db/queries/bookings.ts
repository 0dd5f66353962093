import { type AnyColumn, and, eq, type SQL, sql } from 'drizzle-orm';
import type { NoShowPolicy } from '../../jobs/deduct-sessions.ts';
import type { DbOrTx, Tx } from '../client.ts';
import { bookings, passes, users } from '../schema.ts';
import { instant } from './passes.ts';

/**
 * Booking a class with a pass, cancelling (the LATE_CANCEL_HOURS rule) and attendance.
 * See also deductions.ts: a booking's session is deducted when its class ends.
 */

/**
 * Sessions a pass's bookings hold until deduct-sessions takes them: bookings not yet deducted that will be
 * — READY ones whose class has not ended, ended ones that deduct-sessions will charge under the policy
 * (all under `deduct`, attended ones under `keep`), and late cancels.
 */
export function reservedSessions(passId: SQL | AnyColumn, now: Date, noShow: NoShowPolicy) {
  const endedCharged = noShow === 'deduct' ? sql`true` : sql`b.attended`;
  return sql<number>`(SELECT count(*)::int FROM bookings b
    WHERE b.pass_id = ${passId} AND b.used_pass = false
      AND ((b.status <> 'CANCELLED' AND (b.ended_at > ${instant(now)} OR ${endedCharged})) OR b.late_cancel))`.mapWith(
    Number,
  );
}

export type BookingRefusal =
  | 'member-not-found'
  | 'member-inactive'
  | 'pass-not-found'
  | 'pass-not-members'
  | 'pass-not-valid'
  | 'no-free-session';

export type BookOutcome =
  | { ok: true; bookingId: number }
  | { ok: false; reason: BookingRefusal; detail: string };

/**
 * Books a member onto a class with a pass. The pass row is locked first, so two bookings racing for its
 * last free session run one after the other: the second sees the first's booking and is refused.
 */
export async function bookClass(
  tx: Tx,
  request: {
    memberId: number;
    passId: number;
    startedAt: Date;
    endedAt: Date;
    now: Date;
    noShow: NoShowPolicy;
  },
): Promise<BookOutcome> {
  const [member] = await tx
    .select({ status: users.status })
    .from(users)
    .where(eq(users.id, request.memberId));
  if (!member)
    return { ok: false, reason: 'member-not-found', detail: `member ${request.memberId} does not exist` };
  if (member.status !== 'ACTIVE')
    return { ok: false, reason: 'member-inactive', detail: `member ${request.memberId} is INACTIVE` };
  const [pass] = await tx
    .select({
      id: passes.id,
      userId: passes.userId,
      status: passes.status,
      remainingCount: passes.remainingCount,
      startedAt: passes.startedAt,
      endedAt: passes.endedAt,
    })
    .from(passes)
    .where(eq(passes.id, request.passId))
    .for('update');
  if (!pass) return { ok: false, reason: 'pass-not-found', detail: `pass ${request.passId} does not exist` };
  if (pass.userId !== request.memberId)
    return {
      ok: false,
      reason: 'pass-not-members',
      detail: `pass ${pass.id} belongs to another member, not member ${request.memberId}`,
    };
  const start = request.startedAt.getTime();
  if (
    pass.status === 'EXPIRED' ||
    pass.startedAt.getTime() > start ||
    (pass.endedAt && pass.endedAt.getTime() <= start)
  )
    return {
      ok: false,
      reason: 'pass-not-valid',
      detail:
        pass.status === 'EXPIRED'
          ? `pass ${pass.id} has expired`
          : `pass ${pass.id} is valid from ${pass.startedAt.toISOString()} to ${pass.endedAt?.toISOString() ?? 'no end'}, not at the class time ${request.startedAt.toISOString()}`,
    };
  if (pass.remainingCount !== null) {
    const [held] = await tx.execute<{ reserved: number }>(
      sql`SELECT ${reservedSessions(sql`${pass.id}::bigint`, request.now, request.noShow)} AS reserved`,
    );
    const free = pass.remainingCount - Number(held?.reserved ?? 0);
    if (free <= 0)
      return {
        ok: false,
        reason: 'no-free-session',
        detail: `pass ${pass.id} has no free session: ${pass.remainingCount} left, all held by bookings`,
      };
  }
  const [row] = await tx
    .insert(bookings)
    .values({
      passId: pass.id,
      userId: request.memberId,
      startedAt: request.startedAt,
      endedAt: request.endedAt,
    })
    .returning({ id: bookings.id });
  return { ok: true, bookingId: row!.id };
}

export async function getBooking(db: DbOrTx, id: number) {
  const [row] = await db.select().from(bookings).where(eq(bookings.id, id));
  return row;
}

export type CancelOutcome =
  | { ok: true; late: boolean }
  | { ok: false; reason: 'booking-not-found' | 'not-cancellable'; detail: string };

/**
 * Cancels a READY booking. Inside `lateCancelHours` of the class start (or after it) the cancel is late:
 * the booking is CANCELLED but keeps costing its session (deduct-sessions charges it).
 */
export async function cancelBooking(
  tx: Tx,
  request: { bookingId: number; now: Date; lateCancelHours: number },
): Promise<CancelOutcome> {
  const [booking] = await tx.select().from(bookings).where(eq(bookings.id, request.bookingId)).for('update');
  if (!booking)
    return { ok: false, reason: 'booking-not-found', detail: `booking ${request.bookingId} does not exist` };
  if (booking.status !== 'READY' || booking.usedPass)
    return {
      ok: false,
      reason: 'not-cancellable',
      detail: `booking ${booking.id} is ${booking.status}${booking.usedPass ? ' and its session was deducted' : ''}; only a READY booking can be cancelled`,
    };
  const late = booking.startedAt.getTime() - request.now.getTime() < request.lateCancelHours * 3_600_000;
  await tx
    .update(bookings)
    .set({ status: 'CANCELLED', cancelledAt: request.now, lateCancel: late, modifiedAt: sql`now()` })
    .where(and(eq(bookings.id, booking.id), eq(bookings.status, 'READY')));
  return { ok: true, late };
}

export async function markAttendance(tx: Tx, bookingId: number, attended: boolean) {
  return tx
    .update(bookings)
    .set({ attended, modifiedAt: sql`now()` })
    .where(and(eq(bookings.id, bookingId), sql`${bookings.status} <> 'CANCELLED'`))
    .returning({ id: bookings.id });
}
