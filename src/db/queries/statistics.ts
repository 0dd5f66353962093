import { type SQL, sql } from 'drizzle-orm';
import { addDays } from '../../time.ts';
import type { DbOrTx } from '../client.ts';
import { heldOn } from './holds.ts';
import { instant } from './passes.ts';

/**
 * Statistics figures, one set-based statement per chunk of days. Day boundaries come in from the caller
 * (computed by src/time.ts in BUSINESS_TIMEZONE); this file never decides where a day starts. Every
 * interval is half-open: an instant belongs to a day when `day_start <= t < day_end`.
 * README "Statistics" defines each figure in words; the SQL below is the same definition.
 */

export interface DayWindow {
  /** Business day, YYYY-MM-DD. */
  day: string;
  /** First instant of the day. */
  start: Date;
  /** First instant of the next day (exclusive end). */
  end: Date;
}

/** The stored figures of one row, in storage order. */
export const FIGURES = [
  'bookings',
  'attended',
  'no_shows',
  'cancelled',
  'sessions_deducted',
  'passes_issued',
  'passes_expired',
  'active_passes',
  'ending_passes',
  'ending_sessions_sold',
  'ending_sessions_used',
] as const;

export type Figure = (typeof FIGURES)[number];

const columns = (prefix: string) => sql.raw(FIGURES.map((f) => `${prefix}${f}`).join(', '));

/**
 * Computes the figures of the given days and upserts one totals row per day (package_id NULL, written even
 * when every figure is zero) and one row per package with any activity that day. Package rows of those days
 * that no longer have activity are deleted, so a re-run after a correction leaves exactly what a first run
 * would. Rows whose figures did not change are not touched: `written` counts real changes, and a re-run of
 * unchanged data writes 0.
 */
export async function upsertDailyStatistics(
  db: DbOrTx,
  input: { days: DayWindow[]; asOf: Date },
): Promise<{ read: number; written: number; lastKey: string | null }> {
  const days = JSON.stringify(
    input.days.map((d) => ({ day: d.day, day_start: d.start.toISOString(), day_end: d.end.toISOString() })),
  );
  const asOf = instant(input.asOf);
  // The statement is wide enough for PostgreSQL to JIT-compile it, which costs over a second per chunk and
  // saves nothing at this size (measured: 1.7 s with JIT, 0.13 s without, for one day over 100k passes).
  // SET LOCAL: only for the chunk's transaction.
  await db.execute(sql`SET LOCAL jit = off`);
  const rows = await db.execute<{ read: number; written: number; last_key: string | null }>(sql`
    WITH d AS MATERIALIZED (
      SELECT * FROM jsonb_to_recordset(${days}::jsonb) AS d(day date, day_start timestamptz, day_end timestamptz)
    ), facts AS (
      -- Bookings belong to the day their class starts.
      SELECT d.day, p.package_id,
        CASE WHEN b.status <> 'CANCELLED' THEN 1 ELSE 0 END AS bookings,
        CASE WHEN b.status <> 'CANCELLED' AND b.attended THEN 1 ELSE 0 END AS attended,
        CASE WHEN b.status <> 'CANCELLED' AND NOT b.attended AND b.ended_at <= ${asOf} THEN 1 ELSE 0 END AS no_shows,
        CASE WHEN b.status = 'CANCELLED' THEN 1 ELSE 0 END AS cancelled,
        CASE WHEN b.used_pass THEN 1 ELSE 0 END AS sessions_deducted,
        0 AS passes_issued, 0 AS passes_expired, 0 AS active_passes,
        0 AS ending_passes, 0 AS ending_sessions_sold, 0 AS ending_sessions_used
      FROM d
      JOIN bookings b ON b.started_at >= d.day_start AND b.started_at < d.day_end
      LEFT JOIN passes p ON p.id = b.pass_id
      UNION ALL
      SELECT d.day, p.package_id, 0, 0, 0, 0, 0,
        CASE WHEN p.created_at >= d.day_start AND p.created_at < d.day_end THEN 1 ELSE 0 END,
        CASE WHEN p.expired_at >= d.day_start AND p.expired_at < d.day_end THEN 1 ELSE 0 END,
        CASE WHEN active THEN 1 ELSE 0 END,
        CASE WHEN ending THEN 1 ELSE 0 END,
        CASE WHEN ending THEN x.sold ELSE 0 END,
        CASE WHEN ending THEN GREATEST(LEAST(x.sold - p.remaining_count, x.sold), 0) ELSE 0 END
      FROM d
      CROSS JOIN passes p
      JOIN packages pk ON pk.id = p.package_id
      LEFT JOIN bulk_passes bp ON bp.id = p.bulk_pass_id
      CROSS JOIN LATERAL (
        SELECT COALESCE(bp.count, pk.session_count) AS sold,
               -- A pass ends at its end date, or earlier when it was expired earlier (ran out of sessions).
               LEAST(p.ended_at, p.expired_at) AS pass_end
      ) x
      CROSS JOIN LATERAL (
        SELECT
          p.started_at < d.day_end
            AND (p.ended_at IS NULL OR p.ended_at >= d.day_end)
            AND (p.expired_at IS NULL OR p.expired_at >= d.day_end)
            -- A pass on hold on D is not active that day (README "Statistics": held days).
            AND NOT ${heldOn(sql`p.id`, sql`d.day`)} AS active,
          x.pass_end >= d.day_start AND x.pass_end < d.day_end
            AND x.sold IS NOT NULL AND p.remaining_count IS NOT NULL AS ending
      ) f
      WHERE (p.created_at >= d.day_start AND p.created_at < d.day_end)
         OR (p.expired_at >= d.day_start AND p.expired_at < d.day_end)
         OR f.active OR f.ending
    ), agg AS (
      SELECT day, package_id, GROUPING(package_id) = 1 AS is_total,
        sum(bookings)::int AS bookings, sum(attended)::int AS attended, sum(no_shows)::int AS no_shows,
        sum(cancelled)::int AS cancelled, sum(sessions_deducted)::int AS sessions_deducted,
        sum(passes_issued)::int AS passes_issued, sum(passes_expired)::int AS passes_expired,
        sum(active_passes)::int AS active_passes, sum(ending_passes)::int AS ending_passes,
        sum(ending_sessions_sold)::int AS ending_sessions_sold,
        sum(ending_sessions_used)::int AS ending_sessions_used
      FROM facts
      GROUP BY GROUPING SETS ((day), (day, package_id))
    ), computed AS MATERIALIZED (
      -- Every day gets its totals row, zeros included: an empty day is a zero row, not a missing one.
      SELECT d.day, NULL::bigint AS package_id,
        ${sql.join(
          FIGURES.map((f) => sql.raw(`COALESCE(a.${f}, 0) AS ${f}`)),
          sql`, `,
        )}
      FROM d LEFT JOIN agg a ON a.day = d.day AND a.is_total
      UNION ALL
      SELECT day, package_id, ${columns('')}
      FROM agg WHERE NOT is_total AND package_id IS NOT NULL
    ), upserted AS (
      INSERT INTO statistics AS s (day, package_id, ${columns('')}, created_at, modified_at)
      SELECT day, package_id, ${columns('')}, now(), now() FROM computed
      ON CONFLICT ON CONSTRAINT statistics_day_package_unique DO UPDATE SET
        ${sql.join(
          FIGURES.map((f) => sql.raw(`${f} = EXCLUDED.${f}`)),
          sql`, `,
        )},
        modified_at = now()
      WHERE (${columns('s.')}) IS DISTINCT FROM (${columns('EXCLUDED.')})
      RETURNING 1
    ), removed AS (
      DELETE FROM statistics s USING d
      WHERE s.day = d.day AND s.package_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM computed c WHERE c.day = s.day AND c.package_id = s.package_id)
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM d)::int AS read,
           ((SELECT count(*) FROM upserted) + (SELECT count(*) FROM removed))::int AS written,
           (SELECT max(day) FROM d)::text AS last_key`);
  const row = rows[0];
  return { read: Number(row?.read ?? 0), written: Number(row?.written ?? 0), lastKey: row?.last_key ?? null };
}

export type Period = 'day' | 'week' | 'month';
export const PERIODS: readonly Period[] = ['day', 'week', 'month'];

/** The label of a day's period: the day, its ISO week with its ISO year (2026-W53), or its month. */
const PERIOD_LABEL: Record<Period, SQL> = {
  day: sql`to_char(day, 'YYYY-MM-DD')`,
  week: sql`to_char(day, 'IYYY-"W"IW')`,
  month: sql`to_char(day, 'YYYY-MM')`,
};

export interface StatisticsRow {
  /** `2026-11-21`, `2026-W47` or `2026-11`. */
  period: string;
  /** First and last computed day of the period within the requested range. */
  firstDay: string;
  lastDay: string;
  /** Computed days summed into the row. */
  days: number;
  packageId: number | null;
  packageName: string | null;
  bookings: number;
  attended: number;
  noShows: number;
  cancelled: number;
  sessionsDeducted: number;
  passesIssued: number;
  passesExpired: number;
  /** Active passes at the end of the period's last computed day (a stock: not summed). */
  activePasses: number;
  endingPasses: number;
  endingSessionsSold: number;
  endingSessionsUsed: number;
}

/**
 * Daily rows, or weekly/monthly rollups derived from them: flows are summed; active passes, a stock, is the
 * value of the period's last computed day (0 for a package with no row that day). `byPackage` returns the
 * per-package rows instead of the totals.
 */
export async function readStatistics(
  db: DbOrTx,
  query: { from: string; to: string; period: Period; byPackage: boolean },
): Promise<StatisticsRow[]> {
  const label = PERIOD_LABEL[query.period];
  const rows = await db.execute<Record<string, string | number | null>>(sql`
    WITH periods AS (
      SELECT ${label} AS period, min(day)::text AS first_day, max(day)::text AS last_day, count(*)::int AS days
      FROM statistics
      WHERE package_id IS NULL AND day >= ${query.from}::date AND day <= ${query.to}::date
      GROUP BY 1
    ), rows AS (
      SELECT ${label} AS period, s.*
      FROM statistics s
      WHERE s.day >= ${query.from}::date AND s.day <= ${query.to}::date
        AND ${query.byPackage ? sql`s.package_id IS NOT NULL` : sql`s.package_id IS NULL`}
    )
    SELECT pr.period, pr.first_day, pr.last_day, pr.days, r.package_id, pk.name AS package_name,
      sum(r.bookings)::int AS bookings, sum(r.attended)::int AS attended, sum(r.no_shows)::int AS no_shows,
      sum(r.cancelled)::int AS cancelled, sum(r.sessions_deducted)::int AS sessions_deducted,
      sum(r.passes_issued)::int AS passes_issued, sum(r.passes_expired)::int AS passes_expired,
      COALESCE(sum(r.active_passes) FILTER (WHERE r.day = pr.last_day::date), 0)::int AS active_passes,
      sum(r.ending_passes)::int AS ending_passes, sum(r.ending_sessions_sold)::int AS ending_sessions_sold,
      sum(r.ending_sessions_used)::int AS ending_sessions_used
    FROM periods pr
    JOIN rows r ON r.period = pr.period
    LEFT JOIN packages pk ON pk.id = r.package_id
    GROUP BY pr.period, pr.first_day, pr.last_day, pr.days, r.package_id, pk.name
    ORDER BY pr.first_day, r.package_id NULLS FIRST`);
  return rows.map((r) => ({
    period: String(r.period),
    firstDay: String(r.first_day),
    lastDay: String(r.last_day),
    days: Number(r.days),
    packageId: r.package_id === null ? null : Number(r.package_id),
    packageName: r.package_name === null ? null : String(r.package_name),
    bookings: Number(r.bookings),
    attended: Number(r.attended),
    noShows: Number(r.no_shows),
    cancelled: Number(r.cancelled),
    sessionsDeducted: Number(r.sessions_deducted),
    passesIssued: Number(r.passes_issued),
    passesExpired: Number(r.passes_expired),
    activePasses: Number(r.active_passes),
    endingPasses: Number(r.ending_passes),
    endingSessionsSold: Number(r.ending_sessions_sold),
    endingSessionsUsed: Number(r.ending_sessions_used),
  }));
}

/** Days of the range that have a totals row: the caller reports the ones that were never computed. */
export async function computedDays(db: DbOrTx, range: { from: string; to: string }): Promise<Set<string>> {
  const rows = await db.execute<{ day: string }>(sql`
    SELECT day::text AS day FROM statistics
    WHERE package_id IS NULL AND day >= ${range.from}::date AND day <= ${range.to}::date`);
  return new Set(rows.map((r) => r.day));
}

// ---- Derived figures: one definition for the CLI, the CSV and the admin dashboard ----------------------

/** attended / (attended + no-shows): null when no class of the period has ended. */
export function attendanceRate(row: StatisticsRow): number | null {
  const denominator = row.attended + row.noShows;
  return denominator === 0 ? null : row.attended / denominator;
}

/** Sessions used / sessions sold, over the session-limited passes that ended in the period. */
export function utilisation(row: StatisticsRow): number | null {
  return row.endingSessionsSold === 0 ? null : row.endingSessionsUsed / row.endingSessionsSold;
}

/** A rate as a ratio with 4 decimals (CSV, JSON); null when undefined. */
export const ratio = (value: number | null) => (value === null ? null : Math.round(value * 10_000) / 10_000);
/** A rate as `83.3%`; `-` when there is nothing to divide by. */
export const percent = (value: number | null) => (value === null ? '-' : `${(value * 100).toFixed(1)}%`);

/** Days of the range without a totals row: never computed by the `statistics` job. */
export function missingDays(query: { from: string; to: string }, computed: Set<string>): string[] {
  const missing: string[] = [];
  for (let day = query.from; day <= query.to; day = addDays(day, 1))
    if (!computed.has(day)) missing.push(day);
  return missing;
}
