import type { BenchJob, Sql } from '../jobs.ts';
import { referenceSessions } from '../support.ts';

/**
 * `deduct-sessions`: 200,000 bookings whose class has ended (scale 1), interleaved over passes so that
 * about four due bookings share a pass and every chunk touches hundreds of passes. One pass in ten is unlimited,
 * one in ten has exactly as many sessions left as it has due bookings (it runs out and expires at T), the
 * rest keep sessions. Around them: cancelled, future and already-deducted bookings the job must leave
 * alone, and a fixed handful of bookings it must skip (no pass; a pass expired before the class).
 *
 * No pass has more due bookings than sessions: which booking of such a pass is skipped follows the
 * partitions' timing (README "deduct-sessions", Concurrency), so the arms could not be compared row by row.
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** A booking due as of T (alias `b`): the job's rule under the `deduct` no-show policy. */
const DUE = `b.used_pass = false AND b.status <> 'CANCELLED' AND b.ended_at <= $1`;

/**
 * The limit's statement over the due bookings with key in (after, upTo]. With `lockPasses` (ranges running
 * at once on several sessions), it first locks its bookings' passes in id order, skipping the ones another
 * range's session holds, and handles only the bookings of the passes it locked: the rest (a few passes at
 * the range edges, and bookings without a pass) stay due for the unpartitioned statement after.
 */
async function deductRange(
  sql: Sql,
  asOf: Date,
  { after, upTo }: { after: string | null; upTo: string | null },
  lockPasses: boolean,
): Promise<number> {
  const passLocks = lockPasses
    ? `, pass_locks AS MATERIALIZED (
      SELECT p.* FROM passes p WHERE p.id IN (SELECT pass_id FROM due) ORDER BY p.id FOR UPDATE OF p SKIP LOCKED
    )`
    : '';
  const rows = await sql.unsafe<{ written: number }[]>(
    `
    WITH due AS (
      SELECT b.id, b.pass_id, b.started_at FROM bookings b WHERE ${DUE} AND b.id > $2 AND b.id <= $3
    )${passLocks}, classified AS (
      SELECT d.id, d.pass_id, p.remaining_count,
        CASE
          WHEN p.id IS NULL THEN 'pass-missing'
          WHEN p.ended_at <= d.started_at OR (p.status = 'EXPIRED' AND p.expired_at <= d.started_at)
            THEN 'pass-expired'
        END AS problem
      FROM due d ${lockPasses ? 'JOIN pass_locks' : 'LEFT JOIN passes'} p ON p.id = d.pass_id
    ), decided AS (
      SELECT id, pass_id,
        CASE
          WHEN problem IS NOT NULL THEN problem
          WHEN remaining_count IS NULL THEN 'unlimited'
          WHEN count(*) FILTER (WHERE problem IS NULL) OVER (PARTITION BY pass_id ORDER BY id) <= remaining_count
            THEN 'deduct'
          ELSE 'no-sessions-left'
        END AS outcome
      FROM classified
    ), per_pass AS (
      SELECT pass_id, count(*)::int AS n FROM decided WHERE outcome = 'deduct' GROUP BY pass_id
    ), passes_changed AS (
      UPDATE passes p SET
        remaining_count = p.remaining_count - d.n,
        status = CASE WHEN p.remaining_count - d.n = 0 THEN 'EXPIRED'::pass_status ELSE p.status END,
        expired_at = CASE WHEN p.remaining_count - d.n = 0 AND p.status <> 'EXPIRED' THEN $1 ELSE p.expired_at END,
        modified_at = now()
      FROM per_pass d WHERE p.id = d.pass_id
      RETURNING p.id
    ), bookings_changed AS (
      UPDATE bookings b SET status = 'COMPLETED', used_pass = true, modified_at = now()
      FROM decided d WHERE b.id = d.id AND d.outcome IN ('deduct', 'unlimited')
      RETURNING b.id
    )
    SELECT (SELECT count(*) FROM bookings_changed)::int AS written`,
    [asOf.toISOString(), after ?? '0', upTo ?? String(Number.MAX_SAFE_INTEGER)],
  );
  return rows[0]!.written;
}

export const deductSessionsBench: BenchJob = {
  job: 'deduct-sessions',
  unit: 'bookings',
  tables: ['bookings', 'passes', 'packages', 'users'],
  async seed(sql, scale, asOf) {
    const due = Math.max(20, Math.round(200_000 * scale));
    // 17 of every 20 bookings are due; the other three are cancelled, in the future, or already deducted.
    const bookings = Math.ceil((due * 20) / 17);
    const passes = Math.max(1, Math.ceil(due / 4));
    await sql`INSERT INTO users (name, phone) SELECT 'member ' || g, '010-0000-' || lpad((g % 10000)::text, 4, '0') FROM generate_series(1, ${passes}) g`;
    await sql`INSERT INTO packages (name, session_count, period_days) VALUES ('PT 10', 10, 30), ('PT 30', 30, 90), ('Unlimited month', NULL, 30)`;
    // Passes 1..n: one per member, started 20 days before T, ending 10 days after; every tenth unlimited.
    // Remaining counts are set below, once the bookings are known. Three more passes expired 40 days ago.
    await sql`
      INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at)
      SELECT g, CASE WHEN g % 10 = 0 THEN 3 WHEN g % 3 = 0 THEN 2 ELSE 1 END, 'PROGRESSED',
             CASE WHEN g % 10 = 0 THEN NULL ELSE 10 END,
             ${new Date(asOf.getTime() - 20 * DAY)}, ${new Date(asOf.getTime() + 10 * DAY)}
      FROM generate_series(1, ${passes}) g`;
    await sql`
      INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at, expired_at)
      SELECT g, 1, 'EXPIRED', 4, ${new Date(asOf.getTime() - 70 * DAY)}, ${new Date(asOf.getTime() - 40 * DAY)},
             ${new Date(asOf.getTime() - 40 * DAY)}
      FROM generate_series(1, 3) g`;
    // Booking g is on a pseudo-random pass (a hash of g) among the 50 passes around its position, so about
    // four due bookings share a pass, interleaved with other passes' bookings within a few hundred ids (a
    // member books several classes over a few days), and the reference's sample holds passes that run out.
    // Classes of 50 minutes over the three days before T (or an hour after T, for future ones).
    await sql`
      INSERT INTO bookings (pass_id, user_id, status, used_pass, attended, started_at, ended_at, cancelled_at)
      SELECT CASE WHEN g <= 100 AND g % 10 = 3 THEN NULL
                  WHEN g <= 100 AND g % 10 = 7 THEN ${passes} + 1 + g % 3
                  ELSE h.pass_id END,
             CASE WHEN g <= 100 AND g % 10 = 7 THEN 1 + g % 3 ELSE h.pass_id END,
             (CASE g % 20 WHEN 0 THEN 'CANCELLED' WHEN 2 THEN 'COMPLETED' ELSE 'READY' END)::booking_status,
             g % 20 = 2, g % 9 <> 0, t.started, t.started + interval '50 minutes',
             CASE WHEN g % 20 = 0 THEN t.started - interval '1 day' END
      FROM generate_series(1, ${bookings}) g
      CROSS JOIN LATERAL (
        SELECT 1 + (g::bigint * ${passes} / ${bookings} + (hashint4(g)::bigint & 2147483647) % 50) % ${passes} AS pass_id
      ) h
      CROSS JOIN LATERAL (
        SELECT CASE WHEN g % 20 = 1 THEN ${new Date(asOf.getTime() + HOUR)}::timestamptz
                    ELSE ${new Date(asOf.getTime() - 3 * DAY)}::timestamptz + (g % 4000) * interval '1 minute' END AS started
      ) t`;
    // Sessions left: exactly the due bookings for every tenth limited pass (it runs out), more for the rest.
    await sql`
      UPDATE passes p SET remaining_count = CASE WHEN p.id % 10 = 1 THEN c.n ELSE c.n + 1 + p.id % 7 END
      FROM (SELECT b.pass_id, count(*)::int AS n FROM bookings b
            WHERE b.used_pass = false AND b.status <> 'CANCELLED' AND b.ended_at <= ${asOf}
            GROUP BY b.pass_id) c
      WHERE p.id = c.pass_id AND p.id <= ${passes} AND p.remaining_count IS NOT NULL`;
    await sql`ANALYZE`;
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM bookings b
      WHERE b.used_pass = false AND b.status <> 'CANCELLED' AND b.ended_at <= ${asOf}`;
    return { items: row!.n };
  },
  /**
   * One statement over all due bookings at once: each booking's turn among its pass's deductible bookings
   * (booking id order) against the pass's remaining count, then one decrement per pass and one update of
   * the bookings — the same outcome per booking as the job's chunks, with no chunking.
   */
  async limit(sql, asOf, { upTo }) {
    return deductRange(sql, asOf, { after: null, upTo: upTo === undefined ? null : String(upTo) }, false);
  },
  limitParallel: {
    // ptpass partitions the deduct step over booking IDs (bookingKeyRange in src/db/queries/deductions.ts).
    async keyRange(sql) {
      const [row] = await sql<{ min: string | null; max: string | null }[]>`
        SELECT min(id)::text AS min, max(id)::text AS max FROM bookings`;
      return row?.min && row.max ? { min: row.min, max: row.max } : null;
    },
    // A pass near a range edge has bookings in two ranges. Waiting for its lock would hold one session
    // until the other's whole statement commits (ptpass's chunks wait only for a chunk), so a range skips
    // the passes another session locked, and the limit's statement finishes what is left, unpartitioned.
    range: (sql, asOf, range) => deductRange(sql, asOf, range, true),
    finish: (sql, asOf) => deductRange(sql, asOf, { after: null, upTo: null }, false),
  },
  /**
   * The reference project's read-modify-write: a cursor over the due bookings; per booking, read its pass,
   * decide in JavaScript, write the pass's new count as a value, update the booking; commit every 5.
   */
  async reference(url, asOf, cap) {
    const { reader, writer, end } = referenceSessions(url);
    let processed = 0;
    let lastKey = 0;
    try {
      await reader.begin(async (r) => {
        const cursor = r.unsafe<{ id: string; pass_id: string | null; started_at: Date }[]>(
          `SELECT b.id, b.pass_id, b.started_at FROM bookings b WHERE ${DUE} ORDER BY b.id`,
          [asOf.toISOString()],
        );
        for await (const rows of cursor.cursor(5)) {
          await writer.begin(async (w) => {
            for (const booking of rows) {
              if (booking.pass_id === null) continue; // pass-missing
              const [pass] = await w<
                {
                  status: string;
                  remaining_count: number | null;
                  ended_at: Date | null;
                  expired_at: Date | null;
                }[]
              >`SELECT status, remaining_count, ended_at, expired_at FROM passes WHERE id = ${booking.pass_id}`;
              if (!pass) continue;
              const started = booking.started_at.getTime();
              const expiredBefore =
                (pass.ended_at !== null && pass.ended_at.getTime() <= started) ||
                (pass.status === 'EXPIRED' &&
                  pass.expired_at !== null &&
                  pass.expired_at.getTime() <= started);
              if (expiredBefore) continue; // pass-expired
              if (pass.remaining_count !== null) {
                if (pass.remaining_count === 0) continue; // no-sessions-left
                const remaining = pass.remaining_count - 1;
                const runsOut = remaining === 0 && pass.status !== 'EXPIRED';
                await w`
                  UPDATE passes SET remaining_count = ${remaining},
                    status = ${remaining === 0 ? 'EXPIRED' : pass.status},
                    expired_at = ${runsOut ? asOf : pass.expired_at}, modified_at = now()
                  WHERE id = ${booking.pass_id}`;
              }
              await w`UPDATE bookings SET status = 'COMPLETED', used_pass = true, modified_at = now() WHERE id = ${booking.id}`;
            }
          });
          processed += rows.length;
          lastKey = Number(rows[rows.length - 1]!.id);
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
      SELECT md5(
        (SELECT string_agg(id || ':' || coalesce(remaining_count::text, '-') || ':' || status || ':'
                  || coalesce(extract(epoch FROM expired_at)::text, '-'), ',' ORDER BY id) FROM passes)
        || '|' ||
        (SELECT string_agg(id || ':' || status || ':' || used_pass, ',' ORDER BY id) FROM bookings
         WHERE id <= ${upTo ?? Number.MAX_SAFE_INTEGER})) AS hash`;
    return row!.hash;
  },
  params: () => ({ noShow: 'deduct' }),
  settings(partitions, chunkSize) {
    return { steps: { deduct: { partitions, ...(chunkSize ? { chunkSize } : {}) } } };
  },
};
