import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { bookClass, cancelBooking, getBooking, markAttendance } from '../../db/queries/bookings.ts';
import type { bookings } from '../../db/schema.ts';
import {
  type ApiEnv,
  apiWrite,
  badRequest,
  Id,
  IdempotencyHeader,
  InstantInput,
  InstantOutput,
  isoInZone,
  isoOrNull,
  json,
  notFound,
  parseTimes,
  problems,
  refused,
} from '../core.ts';

/** Booking a class with a pass, cancelling (late cancels cost the session) and attendance. */

const BookingSchema = z
  .object({
    id: z.number().int(),
    memberId: z.number().int(),
    passId: z.number().int().nullable(),
    status: z.enum(['READY', 'PROGRESSED', 'COMPLETED', 'CANCELLED']),
    startedAt: InstantOutput,
    endedAt: InstantOutput,
    attended: z.boolean(),
    usedPass: z.boolean().openapi({ description: 'Its session has been deducted from the pass' }),
    cancelledAt: InstantOutput.nullable(),
    lateCancel: z.boolean().openapi({
      description: 'Cancelled inside LATE_CANCEL_HOURS of the start: it still costs the session',
    }),
  })
  .openapi('Booking');

function bookingJson(b: typeof bookings.$inferSelect, tz: string) {
  return {
    id: b.id,
    memberId: b.userId,
    passId: b.passId,
    status: b.status,
    startedAt: isoInZone(b.startedAt, tz),
    endedAt: isoInZone(b.endedAt, tz),
    attended: b.attended,
    usedPass: b.usedPass,
    cancelledAt: isoOrNull(b.cancelledAt, tz),
    lateCancel: b.lateCancel,
  };
}

const BookingParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 1 }) });

export function registerBookings(api: OpenAPIHono<ApiEnv>) {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/bookings',
      tags: ['bookings'],
      summary: 'Book a member onto a class time with one of their passes',
      description:
        'Refused (409, `reason`) when the pass is not the member’s (`pass-not-members`), not valid at the class ' +
        'time (`pass-not-valid`), is on hold on the class’s business day (`pass-on-hold`), or has no free-to-book session (`no-free-session`); the member must be ACTIVE. ' +
        'Two bookings racing for the last free session: exactly one succeeds.',
      request: {
        headers: IdempotencyHeader,
        body: {
          ...json(
            z
              .object({ memberId: Id, passId: Id, startedAt: InstantInput, endedAt: InstantInput })
              .strict()
              .openapi('BookingCreate'),
          ),
          required: true,
        },
      },
      responses: {
        201: { description: 'The booking', ...json(BookingSchema) },
        ...problems(400, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const { config } = c.var.admin;
      const tz = config.businessTimeZone;
      const times = parseTimes({ startedAt: input.startedAt, endedAt: input.endedAt }, tz);
      if (times.endedAt!.getTime() <= times.startedAt!.getTime())
        throw badRequest([{ field: 'endedAt', message: 'must be after startedAt' }]);
      return apiWrite(c, input, async (tx) => {
        const outcome = await bookClass(tx, {
          memberId: input.memberId,
          passId: input.passId,
          startedAt: times.startedAt!,
          endedAt: times.endedAt!,
          now: c.var.admin.now(),
          noShow: config.noShowPolicy,
          timeZone: tz,
        });
        if (!outcome.ok) {
          if (outcome.reason === 'member-not-found' || outcome.reason === 'pass-not-found')
            throw notFound(outcome.detail.replace(/ does not exist$/, ''));
          throw refused(outcome.reason, outcome.detail);
        }
        const booking = await getBooking(tx, outcome.bookingId);
        return {
          status: 201,
          body: bookingJson(booking!, tz),
          writes: [{ resource: 'bookings', id: booking!.id }],
        };
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/bookings/{id}',
      tags: ['bookings'],
      summary: 'One booking',
      request: { params: BookingParam },
      responses: { 200: { description: 'The booking', ...json(BookingSchema) }, ...problems(400, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const booking = await getBooking(c.var.admin.db, id);
      if (!booking) throw notFound(`booking ${id}`);
      return c.json(bookingJson(booking, c.var.admin.config.businessTimeZone), 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/bookings/{id}/cancel',
      tags: ['bookings'],
      summary: 'Cancel a booking',
      description:
        'Inside LATE_CANCEL_HOURS of the class start (or after it) the cancel is late: the booking is CANCELLED ' +
        'with `lateCancel: true` and deduct-sessions still charges its session.',
      request: {
        params: BookingParam,
        headers: IdempotencyHeader,
        // No fields: no body, or `{}`. Like every other body, one with an unknown field is refused.
        body: { ...json(z.object({}).strict().openapi('BookingCancel')), required: false },
      },
      responses: {
        200: { description: 'The booking', ...json(BookingSchema) },
        ...problems(400, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { config } = c.var.admin;
      return apiWrite(c, { id }, async (tx) => {
        const outcome = await cancelBooking(tx, {
          bookingId: id,
          now: c.var.admin.now(),
          lateCancelHours: config.lateCancelHours,
        });
        if (!outcome.ok) {
          if (outcome.reason === 'booking-not-found') throw notFound(`booking ${id}`);
          throw refused(outcome.reason, outcome.detail);
        }
        const booking = await getBooking(tx, id);
        return {
          status: 200,
          body: bookingJson(booking!, config.businessTimeZone),
          writes: [{ resource: 'bookings', id }],
        };
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/bookings/{id}/attendance',
      tags: ['bookings'],
      summary: 'Mark whether the member attended',
      request: {
        params: BookingParam,
        headers: IdempotencyHeader,
        body: { ...json(z.object({ attended: z.boolean() }).strict().openapi('Attendance')), required: true },
      },
      responses: {
        200: { description: 'The booking', ...json(BookingSchema) },
        ...problems(400, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const input = c.req.valid('json');
      const tz = c.var.admin.config.businessTimeZone;
      return apiWrite(c, { id, ...input }, async (tx) => {
        const updated = await markAttendance(tx, id, input.attended);
        if (!updated.length) {
          const booking = await getBooking(tx, id);
          if (!booking) throw notFound(`booking ${id}`);
          throw refused('booking-cancelled', `booking ${id} is CANCELLED; attendance cannot be marked`);
        }
        const booking = await getBooking(tx, id);
        return { status: 200, body: bookingJson(booking!, tz), writes: [{ resource: 'bookings', id }] };
      }) as never;
    },
  );
}
