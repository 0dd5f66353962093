import type { BenchJob, Sql } from '../jobs.ts';
import { referenceSessions } from '../support.ts';

/**
 * `issue-bulk-passes`: one due bulk pass for a group of 100,000 members (scale 1), one in fifty INACTIVE,
 * of a 10-session, 30-day package starting a day after T. A second bulk pass for the same group is due next
 * week and must stay untouched. The item is the member; its key is the user id.
 */

const DAY = 86_400_000;

export const issueBulkPassesBench: BenchJob = {
  job: 'issue-bulk-passes',
  unit: 'members',
  tables: ['passes', 'bulk_passes', 'user_group_members', 'user_groups', 'packages', 'users'],
  async seed(sql, scale, asOf) {
    const members = Math.max(5, Math.round(100_000 * scale));
    await sql`
      INSERT INTO users (name, phone, status)
      SELECT 'member ' || g, '010-0000-' || lpad((g % 10000)::text, 4, '0'),
             (CASE WHEN g % 50 = 0 THEN 'INACTIVE' ELSE 'ACTIVE' END)::user_status
      FROM generate_series(1, ${members}) g`;
    await sql`INSERT INTO packages (name, session_count, period_days) VALUES ('PT 10', 10, 30)`;
    await sql`INSERT INTO user_groups (name) VALUES ('all members')`;
    await sql`INSERT INTO user_group_members (group_id, user_id) SELECT 1, id FROM users`;
    await sql`
      INSERT INTO bulk_passes (package_id, group_id, started_at, issue_at) VALUES
        (1, 1, ${new Date(asOf.getTime() + DAY)}, ${new Date(asOf.getTime() - 5 * 60_000)}),
        (1, 1, ${new Date(asOf.getTime() + 8 * DAY)}, ${new Date(asOf.getTime() + 7 * DAY)})`;
    await sql`ANALYZE`;
    return { items: members };
  },
  limitParallel: {
    // ptpass partitions the issue step over members (user IDs); completion is its own step after.
    async keyRange(sql) {
      const [row] = await sql<{ min: string | null; max: string | null }[]>`
        SELECT min(user_id)::text AS min, max(user_id)::text AS max FROM user_group_members`;
      return row?.min && row.max ? { min: row.min, max: row.max } : null;
    },
    range: (sql, asOf, { after, upTo }) => issueDue(sql, asOf, { after, upTo }),
    async finish(sql, asOf) {
      return completeDue(sql, asOf);
    },
  },
  /** One INSERT ... SELECT of every pass, then the bulk pass's completion with its counts. */
  async limit(sql, asOf, { upTo }) {
    const issued = await issueDue(sql, asOf, { after: null, upTo: upTo === undefined ? null : String(upTo) });
    await completeDue(sql, asOf);
    return issued;
  },
  /**
   * A cursor over the due bulk pass's members; per member, read the user and insert one pass with values
   * computed in JavaScript; commit every 5. After the last member, the bulk pass is completed with the
   * counts kept in memory (a capped sample never gets there).
   */
  async reference(url, asOf, cap) {
    const { reader, writer, end } = referenceSessions(url);
    let processed = 0;
    let lastKey = 0;
    try {
      const due = await reader<
        {
          id: string;
          package_id: string;
          count: number | null;
          started_at: Date;
          ended_at: Date | null;
          session_count: number | null;
          period_days: number | null;
        }[]
      >`
        SELECT bp.id, bp.package_id, bp.count, bp.started_at, bp.ended_at, pk.session_count, pk.period_days
        FROM bulk_passes bp JOIN packages pk ON pk.id = bp.package_id
        WHERE bp.status = 'READY' AND coalesce(bp.issue_at, bp.started_at) <= ${asOf}
        ORDER BY bp.id`;
      for (const bulkPass of due) {
        const remaining = bulkPass.count ?? bulkPass.session_count;
        const endedAt =
          bulkPass.ended_at ??
          (bulkPass.period_days === null
            ? null
            : new Date(bulkPass.started_at.getTime() + bulkPass.period_days * 24 * 3_600_000));
        let issued = 0;
        let skipped = 0;
        let finished = true;
        await reader.begin(async (r) => {
          const cursor = r<{ user_id: string }[]>`
            SELECT gm.user_id FROM user_group_members gm
            WHERE gm.group_id = (SELECT group_id FROM bulk_passes WHERE id = ${bulkPass.id})
            ORDER BY gm.user_id`.cursor(5);
          for await (const rows of cursor) {
            await writer.begin(async (w) => {
              for (const member of rows) {
                const [user] = await w<
                  { status: string }[]
                >`SELECT status FROM users WHERE id = ${member.user_id}`;
                if (user?.status !== 'ACTIVE') {
                  skipped++;
                  continue;
                }
                await w`
                  INSERT INTO passes (user_id, package_id, bulk_pass_id, status, remaining_count, started_at, ended_at)
                  VALUES (${member.user_id}, ${bulkPass.package_id}, ${bulkPass.id}, 'READY', ${remaining},
                          ${bulkPass.started_at}, ${endedAt})`;
                issued++;
              }
            });
            processed += rows.length;
            lastKey = Number(rows[rows.length - 1]!.user_id);
            if (processed >= cap) {
              finished = false;
              break;
            }
          }
        });
        if (!finished) break;
        await writer`
          UPDATE bulk_passes SET status = 'COMPLETED', completed_at = now(), modified_at = now(),
            issued_count = ${issued}, skipped_count = ${skipped}
          WHERE id = ${bulkPass.id}`;
      }
    } finally {
      await end();
    }
    return { processed, lastKey };
  },
  async fingerprint(sql, upTo) {
    const [row] = await sql<{ hash: string }[]>`
      SELECT md5(
        coalesce((SELECT string_agg(bulk_pass_id || ':' || user_id || ':' || coalesce(remaining_count::text, '-')
                    || ':' || extract(epoch FROM started_at) || ':' || coalesce(extract(epoch FROM ended_at)::text, '-'),
                    ',' ORDER BY bulk_pass_id, user_id)
                  FROM passes WHERE user_id <= ${upTo ?? Number.MAX_SAFE_INTEGER}), '')
        || '|' ||
        (SELECT string_agg(id || ':' || status || ':' || issued_count || ':' || skipped_count, ',' ORDER BY id)
         FROM bulk_passes)) AS hash`;
    return row!.hash;
  },
  settings(partitions, chunkSize) {
    // The issue step splits into key-range partitions over members (user IDs).
    return { steps: { issue: { partitions, ...(chunkSize ? { chunkSize } : {}) } } };
  },
};

/**
 * One INSERT ... SELECT of a pass for every ACTIVE member (user ID in (after, upTo]) of every due READY
 * bulk pass, in member order.
 */
async function issueDue(sql: Sql, asOf: Date, range: { after: string | null; upTo: string | null }) {
  const issued = await sql`
    INSERT INTO passes (user_id, package_id, bulk_pass_id, status, remaining_count, started_at, ended_at)
    SELECT gm.user_id, bp.package_id, bp.id, 'READY', coalesce(bp.count, pk.session_count), bp.started_at,
           coalesce(bp.ended_at, bp.started_at + make_interval(hours => 24 * pk.period_days))
    FROM bulk_passes bp
    JOIN packages pk ON pk.id = bp.package_id
    JOIN user_group_members gm ON gm.group_id = bp.group_id
    JOIN users u ON u.id = gm.user_id
    WHERE bp.status = 'READY' AND coalesce(bp.issue_at, bp.started_at) <= ${asOf} AND u.status = 'ACTIVE'
      AND gm.user_id > ${range.after ?? '0'} AND gm.user_id <= ${range.upTo ?? String(Number.MAX_SAFE_INTEGER)}
    ORDER BY gm.user_id, bp.id
    ON CONFLICT (bulk_pass_id, user_id) DO NOTHING`;
  return issued.count;
}

/**
 * Completes every due READY bulk pass none of whose ACTIVE members lacks a pass, with its counts: one
 * statement that walks each group's members once (the rule of ptpass's complete step).
 */
async function completeDue(sql: Sql, asOf: Date): Promise<number> {
  const completed = await sql`
    WITH tally AS (
      SELECT bp.id,
             count(*) FILTER (WHERE p.id IS NULL)::int AS without_pass,
             count(*) FILTER (WHERE p.id IS NULL AND u.status = 'ACTIVE')::int AS active_without_pass
      FROM bulk_passes bp
      JOIN user_group_members gm ON gm.group_id = bp.group_id
      JOIN users u ON u.id = gm.user_id
      LEFT JOIN passes p ON p.bulk_pass_id = bp.id AND p.user_id = gm.user_id
      WHERE bp.status = 'READY' AND coalesce(bp.issue_at, bp.started_at) <= ${asOf}
      GROUP BY bp.id
    )
    UPDATE bulk_passes bp SET
      status = 'COMPLETED', completed_at = now(), modified_at = now(),
      issued_count = (SELECT count(*) FROM passes p WHERE p.bulk_pass_id = bp.id),
      skipped_count = coalesce(tally.without_pass, 0)
    FROM bulk_passes due LEFT JOIN tally ON tally.id = due.id
    WHERE bp.id = due.id AND bp.status = 'READY' AND coalesce(bp.issue_at, bp.started_at) <= ${asOf}
      AND coalesce(tally.active_without_pass, 0) = 0`;
  return completed.count;
}
