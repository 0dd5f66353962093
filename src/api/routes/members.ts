import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { and, asc, eq, gt, ilike, inArray, or, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.ts';
import { PHONE_PATTERN } from '../../db/queries/imports.ts';
import { likePattern } from '../../db/queries/members.ts';
import { userGroupMembers, userGroups, users } from '../../db/schema.ts';
import {
  type ApiEnv,
  apiWrite,
  badRequest,
  decodeCursor,
  Id,
  IdempotencyHeader,
  InstantOutput,
  isoInZone,
  json,
  notFound,
  PageQuery,
  pageFrom,
  pageOf,
  problems,
  Text,
} from '../core.ts';

/** Members (the `users` table) and groups of members. */

const MemberStatus = z.enum(['ACTIVE', 'INACTIVE']);

export const MemberSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    phone: z.string().nullable(),
    status: MemberStatus,
    createdAt: InstantOutput,
    modifiedAt: InstantOutput,
  })
  .openapi('Member');

const name = Text(200);
const phone = z
  .string()
  .trim()
  .regex(PHONE_PATTERN, 'must be a phone number: digits, spaces, ( ) - . and an optional leading +')
  .nullable();

const MemberCreate = z
  .object({ name, phone: phone.optional(), status: MemberStatus.optional() })
  .strict()
  .openapi('MemberCreate');
const MemberUpdate = z
  .object({ name: name.optional(), phone: phone.optional(), status: MemberStatus.optional() })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'give at least one of name, phone, status')
  .openapi('MemberUpdate');

type UserRow = typeof users.$inferSelect;
export function memberJson(row: UserRow, timeZone: string) {
  return {
    id: row.id,
    name: row.name,
    phone: row.phone,
    status: row.status,
    createdAt: isoInZone(row.createdAt, timeZone),
    modifiedAt: isoInZone(row.modifiedAt, timeZone),
  };
}

const MemberParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 1 }) });

const GroupSchema = z
  .object({ id: z.number().int(), name: z.string(), memberIds: z.array(z.number().int()) })
  .openapi('Group');
const MemberIds = z.array(Id).min(1, 'list at least one member').max(1000, 'at most 1000 members at once');

async function groupJson(db: DbOrTx, id: number) {
  const [group] = await db.select().from(userGroups).where(eq(userGroups.id, id));
  if (!group) return undefined;
  const members = await db
    .select({ id: userGroupMembers.userId })
    .from(userGroupMembers)
    .where(eq(userGroupMembers.groupId, id))
    .orderBy(asc(userGroupMembers.userId));
  return { id: group.id, name: group.name, memberIds: members.map((m) => m.id) };
}

export function registerMembers(api: OpenAPIHono<ApiEnv>) {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/members',
      tags: ['members'],
      summary: 'Create a member',
      request: { headers: IdempotencyHeader, body: { ...json(MemberCreate), required: true } },
      responses: { 201: { description: 'The member', ...json(MemberSchema) }, ...problems(400, 403, 422) },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const tz = c.var.admin.config.businessTimeZone;
      return apiWrite(c, input, async (tx) => {
        const [row] = await tx
          .insert(users)
          .values({ name: input.name, phone: input.phone ?? null, status: input.status ?? 'ACTIVE' })
          .returning();
        return { status: 201, body: memberJson(row!, tz), writes: [{ resource: 'users', id: row!.id }] };
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'patch',
      path: '/members/{id}',
      tags: ['members'],
      summary: 'Update a member: name, phone, status',
      request: {
        params: MemberParam,
        headers: IdempotencyHeader,
        body: { ...json(MemberUpdate), required: true },
      },
      responses: {
        200: { description: 'The member', ...json(MemberSchema) },
        ...problems(400, 403, 404, 422),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const input = c.req.valid('json');
      const tz = c.var.admin.config.businessTimeZone;
      return apiWrite(c, input, async (tx) => {
        const [row] = await tx
          .update(users)
          .set({ ...input, modifiedAt: sql`now()` })
          .where(eq(users.id, id))
          .returning();
        if (!row) throw notFound(`member ${id}`);
        return { status: 200, body: memberJson(row, tz), writes: [{ resource: 'users', id }] };
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/members/{id}',
      tags: ['members'],
      summary: 'One member',
      request: { params: MemberParam },
      responses: { 200: { description: 'The member', ...json(MemberSchema) }, ...problems(400, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const [row] = await c.var.admin.db.select().from(users).where(eq(users.id, id));
      if (!row) throw notFound(`member ${id}`);
      return c.json(memberJson(row, c.var.admin.config.businessTimeZone), 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/members',
      tags: ['members'],
      summary: 'List members, or search them by name or phone',
      request: {
        query: PageQuery.extend({
          q: Text(100).optional().openapi({ description: 'Part of a name or phone' }),
          status: MemberStatus.optional(),
        }),
      },
      responses: {
        200: { description: 'A page of members', ...json(pageOf(MemberSchema, 'MemberPage')) },
        ...problems(400),
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const after = decodeCursor(query.cursor);
      const rows = await c.var.admin.db
        .select()
        .from(users)
        .where(
          and(
            gt(users.id, after),
            query.q
              ? or(ilike(users.name, likePattern(query.q)), ilike(users.phone, likePattern(query.q)))
              : undefined,
            query.status ? eq(users.status, query.status) : undefined,
          ),
        )
        .orderBy(asc(users.id))
        .limit(query.limit + 1);
      const page = pageFrom(rows, query.limit);
      const tz = c.var.admin.config.businessTimeZone;
      return c.json({ items: page.items.map((r) => memberJson(r, tz)), nextCursor: page.nextCursor }, 200);
    },
  );

  // ---- groups ----

  api.openapi(
    createRoute({
      method: 'post',
      path: '/groups',
      tags: ['groups'],
      summary: 'Create a group, optionally with members',
      request: {
        headers: IdempotencyHeader,
        body: {
          ...json(z.object({ name, memberIds: MemberIds.optional() }).strict().openapi('GroupCreate')),
          required: true,
        },
      },
      responses: { 201: { description: 'The group', ...json(GroupSchema) }, ...problems(400, 403, 404, 422) },
    }),
    async (c) => {
      const input = c.req.valid('json');
      return apiWrite(c, input, async (tx) => {
        const [group] = await tx
          .insert(userGroups)
          .values({ name: input.name })
          .returning({ id: userGroups.id });
        const ids = [...new Set(input.memberIds ?? [])];
        await addMembers(tx, group!.id, ids);
        return {
          status: 201,
          body: { id: group!.id, name: input.name, memberIds: ids.sort((a, b) => a - b) },
          writes: [{ resource: 'user_groups', id: group!.id }],
        };
      }) as never;
    },
  );

  const GroupParam = z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 1 }) });

  api.openapi(
    createRoute({
      method: 'post',
      path: '/groups/{id}/members',
      tags: ['groups'],
      summary: 'Add members to a group (members already in it stay)',
      request: {
        params: GroupParam,
        headers: IdempotencyHeader,
        body: {
          ...json(z.object({ memberIds: MemberIds }).strict().openapi('GroupMembersAdd')),
          required: true,
        },
      },
      responses: { 200: { description: 'The group', ...json(GroupSchema) }, ...problems(400, 403, 404, 422) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const input = c.req.valid('json');
      return apiWrite(c, input, async (tx) => {
        const [group] = await tx.select().from(userGroups).where(eq(userGroups.id, id)).for('update');
        if (!group) throw notFound(`group ${id}`);
        await addMembers(tx, id, [...new Set(input.memberIds)]);
        return { status: 200, body: (await groupJson(tx, id))!, writes: [{ resource: 'user_groups', id }] };
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'delete',
      path: '/groups/{id}/members/{memberId}',
      tags: ['groups'],
      summary: 'Remove a member from a group',
      request: {
        params: z.object({
          id: Id.openapi({ param: { name: 'id', in: 'path' }, example: 1 }),
          memberId: Id.openapi({ param: { name: 'memberId', in: 'path' }, example: 2 }),
        }),
      },
      responses: { 200: { description: 'The group', ...json(GroupSchema) }, ...problems(400, 403, 404) },
    }),
    async (c) => {
      const { id, memberId } = c.req.valid('param');
      return apiWrite(c, { id, memberId }, async (tx) => {
        const [group] = await tx.select().from(userGroups).where(eq(userGroups.id, id)).for('update');
        if (!group) throw notFound(`group ${id}`);
        const removed = await tx
          .delete(userGroupMembers)
          .where(and(eq(userGroupMembers.groupId, id), eq(userGroupMembers.userId, memberId)))
          .returning({ id: userGroupMembers.userId });
        if (!removed.length) throw notFound(`member ${memberId} in group ${id}`);
        return { status: 200, body: (await groupJson(tx, id))!, writes: [{ resource: 'user_groups', id }] };
      }) as never;
    },
  );
}

async function addMembers(tx: Tx, groupId: number, ids: number[]) {
  if (!ids.length) return;
  const found = await tx.select({ id: users.id }).from(users).where(inArray(users.id, ids));
  const known = new Set(found.map((f) => f.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length)
    throw badRequest([
      {
        field: 'memberIds',
        message: `no such member${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
      },
    ]);
  await tx
    .insert(userGroupMembers)
    .values(ids.map((userId) => ({ groupId, userId })))
    .onConflictDoNothing();
}
