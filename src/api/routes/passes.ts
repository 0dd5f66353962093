import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { checkGrantShape } from '../../client/grant.ts';
import { reservedSessions } from '../../db/queries/bookings.ts';
import { issuedPassStatus } from '../../db/queries/bulk-passes.ts';
import { instant } from '../../db/queries/passes.ts';
import { packages, passes, users } from '../../db/schema.ts';
import {
  type ApiEnv,
  apiWrite,
  badRequest,
  decodeCursor,
  Id,
  IdempotencyHeader,
  InstantInput,
  InstantOutput,
  isoInZone,
  isoOrNull,
  json,
  notFound,
  PageQuery,
  pageFrom,
  pageOf,
  parseTimes,
  problems,
  refused,
  Text,
} from '../core.ts';

/** Packages, and passes of a package issued to one member (the rules of a grant). */

const positiveOrUnlimited = (what: string) =>
  z
    .number()
    .int(`must be a whole number of ${what}`)
    .min(1, `must be at least 1 (null: unlimited)`)
    .max(100_000)
    .nullable();

const PackageSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    sessionCount: z.number().int().nullable().openapi({ description: 'Sessions per pass; null: unlimited' }),
    periodDays: z.number().int().nullable().openapi({ description: 'Days a pass lasts; null: unlimited' }),
    createdAt: InstantOutput,
  })
  .openapi('Package');

const PassSchema = z
  .object({
    id: z.number().int(),
    memberId: z.number().int(),
    packageId: z.number().int(),
    packageName: z.string(),
    status: z.enum(['READY', 'PROGRESSED', 'EXPIRED']),
    remaining: z.number().int().nullable().openapi({ description: 'Sessions left; null: unlimited' }),
    reserved: z.number().int().openapi({ description: 'Sessions held by bookings not yet deducted' }),
    freeToBook: z.number().int().nullable().openapi({ description: 'remaining - reserved; null: unlimited' }),
    startedAt: InstantOutput,
    endedAt: InstantOutput.nullable(),
    expiredAt: InstantOutput.nullable(),
  })
  .openapi('Pass');

export function registerPasses(api: OpenAPIHono<ApiEnv>) {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/packages',
      tags: ['packages'],
      summary: 'Create a package',
      request: {
        headers: IdempotencyHeader,
        body: {
          ...json(
            z
              .object({
                name: Text(200),
                sessionCount: positiveOrUnlimited('sessions'),
                periodDays: positiveOrUnlimited('days'),
              })
              .strict()
              .openapi('PackageCreate'),
          ),
          required: true,
        },
      },
      responses: { 201: { description: 'The package', ...json(PackageSchema) }, ...problems(400, 403, 422) },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const tz = c.var.admin.config.businessTimeZone;
      return apiWrite(c, input, async (tx) => {
        const [row] = await tx.insert(packages).values(input).returning();
        return {
          status: 201,
          body: { ...input, id: row!.id, createdAt: isoInZone(row!.createdAt, tz) },
          writes: [{ resource: 'packages', id: row!.id }],
        };
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/packages',
      tags: ['packages'],
      summary: 'List packages',
      request: { query: PageQuery },
      responses: {
        200: { description: 'A page of packages', ...json(pageOf(PackageSchema, 'PackagePage')) },
        ...problems(400),
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const rows = await c.var.admin.db
        .select()
        .from(packages)
        .where(gt(packages.id, decodeCursor(query.cursor)))
        .orderBy(asc(packages.id))
        .limit(query.limit + 1);
      const page = pageFrom(rows, query.limit);
      const tz = c.var.admin.config.businessTimeZone;
      return c.json(
        {
          items: page.items.map((p) => ({
            id: p.id,
            name: p.name,
            sessionCount: p.sessionCount,
            periodDays: p.periodDays,
            createdAt: isoInZone(p.createdAt, tz),
          })),
          nextCursor: page.nextCursor,
        },
        200,
      );
    },
  );

  const MemberParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 1 }) });

  api.openapi(
    createRoute({
      method: 'post',
      path: '/members/{id}/passes',
      tags: ['passes'],
      summary: 'Issue one pass of a package to a member (the rules of `ptpass grant`)',
      request: {
        params: MemberParam,
        headers: IdempotencyHeader,
        body: {
          ...json(
            z
              .object({
                packageId: Id,
                startedAt: InstantInput.optional().openapi({ description: 'Default: now' }),
                endedAt: InstantInput.optional().openapi({
                  description:
                    'Default: the start plus the package period in business days (unlimited without one)',
                }),
                count: z
                  .number()
                  .int()
                  .optional()
                  .openapi({ description: "Sessions; default: the package's" }),
              })
              .strict()
              .openapi('PassIssue'),
          ),
          required: true,
        },
      },
      responses: {
        201: { description: 'The pass', ...json(PassSchema) },
        ...problems(400, 403, 404, 409, 422),
      },
    }),
    async (c) => {
      const { id: memberId } = c.req.valid('param');
      const input = c.req.valid('json');
      const { config } = c.var.admin;
      const tz = config.businessTimeZone;
      const times = parseTimes({ startedAt: input.startedAt, endedAt: input.endedAt }, tz);
      const now = c.var.admin.now();
      const shape = checkGrantShape(
        { packageId: input.packageId, target: { userIds: [memberId] }, count: input.count, ...times },
        now,
        tz,
      );
      if (shape) {
        const field = shape.startsWith('--count')
          ? 'count'
          : shape.startsWith('--end')
            ? 'endedAt'
            : '(body)';
        throw badRequest([{ field, message: shape.replace(/^--\w+ /, '') }]);
      }
      return apiWrite(c, { memberId, ...input }, async (tx) => {
        const [member] = await tx.select({ status: users.status }).from(users).where(eq(users.id, memberId));
        if (!member) throw notFound(`member ${memberId}`);
        if (member.status !== 'ACTIVE')
          throw refused(
            'member-inactive',
            `member ${memberId} is INACTIVE and would get no pass; reactivate them first`,
          );
        const [pkg] = await tx.select().from(packages).where(eq(packages.id, input.packageId));
        if (!pkg) throw notFound(`package ${input.packageId}`);
        if (input.count !== undefined && pkg.sessionCount === null)
          throw badRequest([
            {
              field: 'count',
              message: `package ${pkg.id} has unlimited sessions; count cannot be given for it`,
            },
          ]);
        const startedAt = times.startedAt ?? now;
        // The end rule of issue-bulk-passes: the start plus the package period in business-zone days.
        const endedAt = times.endedAt
          ? sql`${times.endedAt.toISOString()}::timestamptz`
          : pkg.periodDays === null
            ? sql`NULL`
            : sql`((${startedAt.toISOString()}::timestamptz AT TIME ZONE ${tz}) + make_interval(days => ${pkg.periodDays}::int)) AT TIME ZONE ${tz}`;
        const [row] = await tx
          .insert(passes)
          .values({
            userId: memberId,
            packageId: pkg.id,
            // As `ptpass grant` issues it: live at once when its start has come, else READY until then.
            status: issuedPassStatus(instant(startedAt), now),
            remainingCount: input.count ?? pkg.sessionCount,
            startedAt,
            endedAt,
          })
          .returning({ id: passes.id });
        const [pass] = await passRows(tx, { memberId, passId: row!.id }, now, config.noShowPolicy);
        return { status: 201, body: passJson(pass!, tz), writes: [{ resource: 'passes', id: row!.id }] };
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/members/{id}/passes',
      tags: ['passes'],
      summary: "A member's passes with remaining, reserved and free-to-book sessions",
      request: { params: MemberParam, query: PageQuery },
      responses: {
        200: { description: 'A page of passes', ...json(pageOf(PassSchema, 'PassPage')) },
        ...problems(400, 404),
      },
    }),
    async (c) => {
      const { id: memberId } = c.req.valid('param');
      const query = c.req.valid('query');
      const { db, config } = c.var.admin;
      const [member] = await db.select({ id: users.id }).from(users).where(eq(users.id, memberId));
      if (!member) throw notFound(`member ${memberId}`);
      const rows = await passRows(
        db,
        { memberId, after: decodeCursor(query.cursor), limit: query.limit + 1 },
        c.var.admin.now(),
        config.noShowPolicy,
      );
      const page = pageFrom(rows, query.limit);
      return c.json(
        { items: page.items.map((p) => passJson(p, config.businessTimeZone)), nextCursor: page.nextCursor },
        200,
      );
    },
  );
}

async function passRows(
  db: import('../../db/client.ts').DbOrTx,
  where: { memberId: number; passId?: number; after?: number; limit?: number },
  now: Date,
  noShow: import('../../jobs/deduct-sessions.ts').NoShowPolicy,
) {
  return db
    .select({
      id: passes.id,
      memberId: passes.userId,
      packageId: passes.packageId,
      packageName: packages.name,
      status: passes.status,
      remaining: passes.remainingCount,
      reserved: reservedSessions(passes.id, now, noShow),
      startedAt: passes.startedAt,
      endedAt: passes.endedAt,
      expiredAt: passes.expiredAt,
    })
    .from(passes)
    .innerJoin(packages, eq(packages.id, passes.packageId))
    .where(
      and(
        eq(passes.userId, where.memberId),
        where.passId ? eq(passes.id, where.passId) : undefined,
        where.after ? gt(passes.id, where.after) : undefined,
      ),
    )
    .orderBy(asc(passes.id))
    .limit(where.limit ?? 1);
}

function passJson(p: Awaited<ReturnType<typeof passRows>>[number], tz: string) {
  return {
    ...p,
    freeToBook: p.remaining === null ? null : Math.max(0, p.remaining - p.reserved),
    startedAt: isoInZone(p.startedAt, tz),
    endedAt: isoOrNull(p.endedAt, tz),
    expiredAt: isoOrNull(p.expiredAt, tz),
  };
}
