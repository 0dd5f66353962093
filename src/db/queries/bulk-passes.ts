import { asc, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { bulkPasses, packages, userGroupMembers, userGroups, users } from '../schema.ts';
import { instant } from './passes.ts';

/**
 * Bulk pass issuance, one set-based statement per chunk.
 *
 * The issue step walks the pairs (member, bulk pass) of every due bulk pass in member order; its checkpoint
 * is the last pair as text, `"<user id>/<bulk pass id>"`. Ordered by member first, the step splits into
 * key-range partitions over user IDs (`issueKeyRange`), each walking its own members. Each page is inserted with
 * `ON CONFLICT (bulk_pass_id, user_id) DO NOTHING` against the `passes_bulk_pass_user_unique` constraint,
 * so a retried chunk, a re-run, or two runs racing on the same bulk pass can never issue a second pass.
 *
 * A bulk pass is due as of T when it is READY and `coalesce(issue_at, started_at) <= T`, however long ago
 * that was: a worker that was down for days still issues it, and a bulk pass due later is not touched.
 */

export interface IssueWindow {
  asOf: Date;
  /**
   * Exclusive lower key bound: a checkpoint `"<user id>/<bulk pass id>"`, a partition's lower bound
   * `"<user id>"` (members after it), or null from the start.
   */
  after: string | null;
  /** Inclusive upper user ID of this partition; null for no bound. */
  upTo?: string | null;
  limit: number;
  /** Only this bulk pass (a grant's own run); undefined for every due bulk pass. */
  bulkPassId?: number | undefined;
  /** BUSINESS_TIMEZONE: a package's period is counted in business days. */
  timeZone: string;
}

export interface IssueCounts {
  /** Members in the page (issued, already holding a pass, or INACTIVE). */
  read: number;
  /** Passes this chunk inserted. */
  written: number;
  lastKey: string | null;
}

const AFTER_EVERY_BULK_PASS = '9223372036854775807';

/**
 * Parses the issue step's lower bound. A checkpoint of the earlier bulk-pass-first order
 * (`"<bulk pass id>:<user id>"`, from a run in flight across the upgrade) restarts the step from its
 * beginning: the inserts are idempotent, so that re-reads pages but never issues twice.
 */
export function parseIssueKey(key: string | null): { userId: string; bulkPassId: string } {
  if (key === null || /^\d+:\d+$/.test(key)) return { userId: '0', bulkPassId: '0' };
  const pair = /^(\d+)\/(\d+)$/.exec(key);
  if (pair) return { userId: pair[1]!, bulkPassId: pair[2]! };
  // A partition's lower bound: every pair of that member belongs to the previous partition.
  if (/^\d+$/.test(key)) return { userId: key, bulkPassId: AFTER_EVERY_BULK_PASS };
  throw new Error(`malformed issue checkpoint '${key}' (expected '<user id>/<bulk pass id>')`);
}

/** User IDs of the members of READY bulk passes' groups: what the issue step's partitions split. */
export async function issueKeyRange(db: DbOrTx): Promise<{ min: string; max: string } | null> {
  const rows = await db.execute<{ min: string | null; max: string | null }>(sql`
    SELECT min(gm.user_id)::text AS min, max(gm.user_id)::text AS max
    FROM user_group_members gm
    WHERE gm.group_id IN (SELECT group_id FROM bulk_passes WHERE status = 'READY')`);
  const row = rows[0];
  return row?.min && row.max ? { min: row.min, max: row.max } : null;
}

const due = (asOf: Date) => sql`coalesce(issue_at, started_at) <= ${instant(asOf)}`;
const only = (bulkPassId: number | undefined) =>
  bulkPassId === undefined ? sql`true` : sql`id = ${bulkPassId}::bigint`;

/**
 * How many (member, bulk pass) pairs the issue step reads as of T: counted, not estimated (an index-only
 * scan of the due groups' members, milliseconds for 100,000), since a bulk pass is usually inserted just
 * before its run, when no statistics know it yet.
 */
export async function countIssues(
  db: DbOrTx,
  w: { asOf: Date; bulkPassId?: number | undefined },
): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    SELECT count(*)::int AS n
    FROM (SELECT group_id FROM bulk_passes WHERE status = 'READY' AND ${due(w.asOf)} AND ${only(w.bulkPassId)}) due
    JOIN user_group_members gm ON gm.group_id = due.group_id`);
  return Number(rows[0]?.n ?? 0);
}

/**
 * The status of a pass issued as of T: PROGRESSED (live at once, not at the next `pass-lifecycle` run)
 * when its start is at or before T, else READY, for `pass-lifecycle` to activate at its start. The rule
 * of `ptpass grant` (the issue step below) and of the API's `POST /members/{id}/passes`.
 */
export const issuedPassStatus = (startedAt: SQL, asOf: Date) =>
  sql`(CASE WHEN ${startedAt} <= ${instant(asOf)} THEN 'PROGRESSED' ELSE 'READY' END)::pass_status`;

/**
 * One page of (due bulk pass, member) pairs after the checkpoint; each ACTIVE member without a pass of
 * that bulk pass gets one. Remaining sessions are the bulk pass's count, else the package's (null:
 * unlimited); the end is the bulk pass's, else the start plus the package period in business days: the same
 * wall-clock time in BUSINESS_TIMEZONE N days on, across daylight-saving changes (null: unlimited). A pass
 * whose start is at or before T is inserted PROGRESSED (live at once); a later one READY, for
 * `pass-lifecycle` to activate at its start.
 *
 * The page is a LATERAL join so that each due bulk pass reads at most `limit` members from the
 * `user_group_members` primary key, starting right after the checkpoint (a plain lower bound, so it is an
 * index condition): a chunk costs the same at the end of a 100,000-member group as at its start.
 */
export async function issueBulkPassesChunk(db: DbOrTx, w: IssueWindow): Promise<IssueCounts> {
  const after = parseIssueKey(w.after);
  const rows = await db.execute<{
    read: number;
    written: number;
    last_key: string | null;
  }>(sql`
    WITH due AS (
      SELECT id, group_id FROM bulk_passes
      WHERE status = 'READY' AND ${due(w.asOf)} AND ${only(w.bulkPassId)}
    ), keys AS (
      -- The first members after the checkpoint of each due bulk pass (an index range on the group's
      -- members), then the first page of those pairs in (member, bulk pass) order.
      SELECT m.user_id, due.id AS bulk_pass_id
      FROM due CROSS JOIN LATERAL (
        SELECT gm.user_id FROM user_group_members gm
        WHERE gm.group_id = due.group_id
          AND gm.user_id >= ${after.userId}::bigint
          AND (gm.user_id > ${after.userId}::bigint OR due.id > ${after.bulkPassId}::bigint)
          AND gm.user_id <= ${w.upTo ?? AFTER_EVERY_BULK_PASS}::bigint
        ORDER BY gm.user_id
        LIMIT ${w.limit}
      ) m
      ORDER BY m.user_id, due.id
      LIMIT ${w.limit}
    ), page AS (
      -- A lookup per paged member: a join here lets the planner scan all users for every chunk.
      SELECT keys.bulk_pass_id, keys.user_id,
             (SELECT u.status = 'ACTIVE' FROM users u WHERE u.id = keys.user_id) AS active
      FROM keys
    ), issued AS (
      INSERT INTO passes (user_id, package_id, bulk_pass_id, status, remaining_count, started_at, ended_at)
      SELECT page.user_id, bp.package_id, bp.id,
             ${issuedPassStatus(sql`bp.started_at`, w.asOf)},
             coalesce(bp.count, pk.session_count), bp.started_at,
             coalesce(bp.ended_at, ((bp.started_at AT TIME ZONE ${w.timeZone}) + make_interval(days => pk.period_days)) AT TIME ZONE ${w.timeZone})
      FROM page
      JOIN bulk_passes bp ON bp.id = page.bulk_pass_id
      JOIN packages pk ON pk.id = bp.package_id
      WHERE page.active AND bp.status = 'READY'
      ORDER BY page.user_id, page.bulk_pass_id
      ON CONFLICT (bulk_pass_id, user_id) DO NOTHING
      RETURNING 1
    ), last AS (
      SELECT user_id, bulk_pass_id FROM page ORDER BY user_id DESC, bulk_pass_id DESC LIMIT 1
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM issued)::int AS written,
           (SELECT user_id || '/' || bulk_pass_id FROM last) AS last_key`);
  const row = rows[0];
  return {
    read: Number(row?.read ?? 0),
    written: Number(row?.written ?? 0),
    lastKey: row?.last_key ?? null,
  };
}

export interface CompleteWindow {
  asOf: Date;
  after: string | null;
  limit: number;
  bulkPassId?: number | undefined;
}

/**
 * Due READY bulk passes of which no ACTIVE member lacks a pass become COMPLETED, with `issued_count` and
 * `skipped_count` counted from the tables (so they are right after a crash or a re-run). A bulk pass that
 * gained an ACTIVE member since the issue step stays READY and is finished by the next run.
 */
export async function completeBulkPassesChunk(
  db: DbOrTx,
  w: CompleteWindow,
): Promise<{ read: number; written: number; lastKey: string | null }> {
  const rows = await db.execute<{ read: number; written: number; last_key: string | null }>(sql`
    WITH page AS (
      SELECT id FROM bulk_passes
      WHERE status = 'READY' AND ${due(w.asOf)} AND ${only(w.bulkPassId)}
        AND id > ${w.after ?? '0'}::bigint
      ORDER BY id
      LIMIT ${w.limit}
    ), tally AS (
      -- One walk over each bulk pass's members: who has no pass of it, and which of those are ACTIVE
      -- (any such member keeps the bulk pass READY). Two separate anti-joins walked the members twice.
      SELECT bp.id,
             count(*) FILTER (WHERE p.id IS NULL)::int AS without_pass,
             count(*) FILTER (WHERE p.id IS NULL AND u.status = 'ACTIVE')::int AS active_without_pass
      FROM page
      JOIN bulk_passes bp ON bp.id = page.id
      JOIN user_group_members gm ON gm.group_id = bp.group_id
      JOIN users u ON u.id = gm.user_id
      LEFT JOIN passes p ON p.bulk_pass_id = bp.id AND p.user_id = gm.user_id
      GROUP BY bp.id
    ), completed AS (
      UPDATE bulk_passes bp SET
        status = 'COMPLETED',
        completed_at = now(),
        modified_at = now(),
        issued_count = (SELECT count(*) FROM passes p WHERE p.bulk_pass_id = bp.id),
        skipped_count = coalesce(tally.without_pass, 0)
      FROM page LEFT JOIN tally ON tally.id = page.id
      WHERE bp.id = page.id AND bp.status = 'READY'
        AND coalesce(bp.issue_at, bp.started_at) <= ${instant(w.asOf)}
        AND coalesce(tally.active_without_pass, 0) = 0
      RETURNING bp.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM completed)::int AS written,
           (SELECT max(id) FROM page)::text AS last_key`);
  const row = rows[0];
  return { read: Number(row?.read ?? 0), written: Number(row?.written ?? 0), lastKey: row?.last_key ?? null };
}

// ---- Grants: the lookups and inserts behind `ptpass grant` ------------------------------------------

export async function findPackage(db: DbOrTx, id: number) {
  const [row] = await db
    .select({ id: packages.id, sessionCount: packages.sessionCount, periodDays: packages.periodDays })
    .from(packages)
    .where(eq(packages.id, id));
  return row;
}

/** The group and how many of its members are ACTIVE and INACTIVE; undefined when there is no such group. */
export async function findGroupMembership(db: DbOrTx, id: number) {
  const [group] = await db.select({ id: userGroups.id }).from(userGroups).where(eq(userGroups.id, id));
  if (!group) return undefined;
  const [counts] = await db
    .select({
      active: sql<number>`count(*) FILTER (WHERE ${users.status} = 'ACTIVE')::int`,
      inactive: sql<number>`count(*) FILTER (WHERE ${users.status} = 'INACTIVE')::int`,
    })
    .from(userGroupMembers)
    .innerJoin(users, eq(users.id, userGroupMembers.userId))
    .where(eq(userGroupMembers.groupId, id));
  return { id: group.id, active: Number(counts?.active ?? 0), inactive: Number(counts?.inactive ?? 0) };
}

export async function findUserStatuses(db: DbOrTx, ids: number[]) {
  if (ids.length === 0) return [];
  return db.select({ id: users.id, status: users.status }).from(users).where(inArray(users.id, ids));
}

/** A group made for one grant's listed users. */
export async function insertAdHocGroup(db: DbOrTx, name: string, userIds: number[]): Promise<number> {
  const [group] = await db.insert(userGroups).values({ name }).returning({ id: userGroups.id });
  const groupId = group!.id;
  // Chunked so a very long --users list stays under the protocol's parameter limit.
  for (let i = 0; i < userIds.length; i += 10_000) {
    await db
      .insert(userGroupMembers)
      .values(userIds.slice(i, i + 10_000).map((userId) => ({ groupId, userId })));
  }
  return groupId;
}

export interface NewBulkPass {
  packageId: number;
  groupId: number;
  count: number | null;
  startedAt: Date;
  endedAt: Date | null;
  issueAt: Date;
}

export async function insertBulkPass(db: DbOrTx, values: NewBulkPass): Promise<number> {
  const [row] = await db.insert(bulkPasses).values(values).returning({ id: bulkPasses.id });
  return row!.id;
}

export async function getBulkPass(db: DbOrTx, id: number) {
  const [row] = await db.select().from(bulkPasses).where(eq(bulkPasses.id, id));
  return row;
}

// ---- The admin web's Bulk passes page ----------------------------------------------------------------

/** Bulk passes newest first, with what the page shows: package, group, due time, sessions per pass. */
export async function listBulkPasses(db: DbOrTx, options: { limit: number }) {
  return db
    .select({
      id: bulkPasses.id,
      status: bulkPasses.status,
      packageId: bulkPasses.packageId,
      packageName: packages.name,
      groupId: bulkPasses.groupId,
      groupName: userGroups.name,
      /** Sessions per pass: the bulk pass's count, else the package's; null means unlimited. */
      count: sql<number | null>`coalesce(${bulkPasses.count}, ${packages.sessionCount})`,
      startedAt: bulkPasses.startedAt,
      endedAt: bulkPasses.endedAt,
      /** When the schedule issues it: `issue_at`, else the start (the job's own rule). */
      dueAt: sql<Date>`coalesce(${bulkPasses.issueAt}, ${bulkPasses.startedAt})`.mapWith(
        (v: string | Date) => new Date(v),
      ),
      issuedCount: bulkPasses.issuedCount,
      skippedCount: bulkPasses.skippedCount,
      completedAt: bulkPasses.completedAt,
      createdAt: bulkPasses.createdAt,
    })
    .from(bulkPasses)
    .innerJoin(packages, eq(packages.id, bulkPasses.packageId))
    .innerJoin(userGroups, eq(userGroups.id, bulkPasses.groupId))
    .orderBy(desc(bulkPasses.id))
    .limit(options.limit);
}

/** The packages a grant can name, for the form's select. */
export async function packageChoices(db: DbOrTx) {
  return db
    .select({
      id: packages.id,
      name: packages.name,
      sessionCount: packages.sessionCount,
      periodDays: packages.periodDays,
    })
    .from(packages)
    .orderBy(asc(packages.name), asc(packages.id));
}

/**
 * Groups with their ACTIVE and total member counts, newest first, for the form's select. Plain SQL with
 * aliases: a one-table Drizzle select renders its columns unqualified, so `${userGroups.id}` in a correlated
 * subquery was a bare `id`, which the subquery joining `users` bound to `u.id` (1 active of N, every group).
 */
export async function groupChoices(db: DbOrTx, options: { limit: number }) {
  const rows = await db.execute<{ id: number; name: string; members: number; active: number }>(sql`
    SELECT g.id, g.name,
           (SELECT count(*)::int FROM user_group_members gm WHERE gm.group_id = g.id) AS members,
           (SELECT count(*)::int FROM user_group_members gm JOIN users u ON u.id = gm.user_id
            WHERE gm.group_id = g.id AND u.status = 'ACTIVE') AS active
    FROM user_groups g
    ORDER BY g.id DESC
    LIMIT ${options.limit}`);
  return rows.map((r) => ({
    id: Number(r.id),
    name: r.name,
    members: Number(r.members),
    active: Number(r.active),
  }));
}
