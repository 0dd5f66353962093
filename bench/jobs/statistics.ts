import { createDb } from '../../src/db/client.ts';
import { FIGURES, upsertDailyStatistics } from '../../src/db/queries/statistics.ts';
import { addDays, businessDayOf, startOfBusinessDay } from '../../src/time.ts';
import type { BenchJob } from '../jobs.ts';
import { BENCH_TIME_ZONE, referenceSessions } from '../support.ts';

/**
 * `statistics`: a backfill of the 90 business days before T over 2,000 bookings a day (scale 1, 180,000
 * bookings) on about 22,500 passes created over the 120 days before T (so the first day already has active
 * passes). Packages of 10 and 20 sessions and an unlimited one; passes that ran out early (expired with 0
 * left) or at their end date; cancelled bookings, no-shows, bookings without a pass. The item is the day;
 * its key is the day as the number YYYYMMDD.
 */

const DAYS = 90;
const DAY = 86_400_000;

interface DayWindow {
  day: string;
  start: Date;
  end: Date;
}

function daysBefore(asOf: Date): DayWindow[] {
  const to = addDays(businessDayOf(asOf, BENCH_TIME_ZONE), -1);
  return Array.from({ length: DAYS }, (_, i) => {
    const day = addDays(to, i - DAYS + 1);
    return {
      day,
      start: startOfBusinessDay(day, BENCH_TIME_ZONE),
      end: startOfBusinessDay(addDays(day, 1), BENCH_TIME_ZONE),
    };
  });
}

const dayKey = (day: string) => Number(day.replaceAll('-', ''));

/** Turns `{name}` placeholders into `$n` parameters: PostgreSQL refuses a parameter a query does not use. */
function bind(text: string, values: Record<string, string>): { text: string; params: string[] } {
  const names: string[] = [];
  const bound = text.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!names.includes(name)) names.push(name);
    return `$${names.indexOf(name) + 1}::timestamptz`;
  });
  return {
    text: bound,
    params: names.map((name) => {
      const value = values[name];
      if (value === undefined) throw new Error(`no value for {${name}}`);
      return value;
    }),
  };
}

export const statisticsBench: BenchJob = {
  job: 'statistics',
  unit: 'days',
  tables: ['statistics', 'bookings', 'passes', 'packages', 'users'],
  async seed(sql, scale, asOf) {
    const days = daysBefore(asOf);
    const first = days[0]!.start;
    const perDay = Math.max(1, Math.round(2_000 * scale));
    const bookings = perDay * DAYS;
    // A pass of ~10 sessions carries about 8 bookings; passes are created over the 120 days before T.
    const passes = Math.max(1, Math.round((perDay * 120) / 8));
    const members = Math.max(1, Math.round(passes / 2));
    const passesStart = new Date(asOf.getTime() - 120 * DAY);
    await sql`INSERT INTO users (name) SELECT 'member ' || g FROM generate_series(1, ${members}) g`;
    await sql`INSERT INTO packages (name, session_count, period_days) VALUES ('PT 10', 10, 30), ('PT 20', 20, 60), ('Unlimited month', NULL, 30)`;
    // Pass g is created at an even spacing over the 120 days before T and starts at once. Every tenth is
    // unlimited; of the rest, one in five ran out 20 days in (EXPIRED, 0 left), and the others expired at
    // their end date when it is before T (the lifecycle job's 00:05 run) or are still running.
    await sql`
      INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at, expired_at, created_at, modified_at)
      SELECT 1 + g % ${members}, x.package_id,
             (CASE WHEN x.expired_at IS NULL THEN 'PROGRESSED' ELSE 'EXPIRED' END)::pass_status,
             x.remaining, x.created, x.ended, x.expired_at, x.created, x.created
      FROM generate_series(1, ${passes}) g
      CROSS JOIN LATERAL (
        SELECT ${passesStart}::timestamptz + (g - 1) * (interval '120 days' / ${passes}) AS created,
               CASE WHEN g % 10 = 0 THEN 3 WHEN g % 3 = 0 THEN 2 ELSE 1 END AS package_id
      ) c
      CROSS JOIN LATERAL (
        SELECT c.created, c.package_id,
               c.created + CASE WHEN c.package_id = 2 THEN interval '60 days' ELSE interval '30 days' END AS ended,
               CASE WHEN c.package_id = 3 THEN NULL WHEN g % 5 = 1 THEN 0
                    ELSE 1 + g % (CASE WHEN c.package_id = 2 THEN 20 ELSE 10 END) END AS remaining
      ) y
      CROSS JOIN LATERAL (
        SELECT y.created, y.package_id, y.ended, y.remaining,
               CASE WHEN c.package_id <> 3 AND g % 5 = 1 AND y.created + interval '20 days' < ${asOf}
                      THEN y.created + interval '20 days'
                    WHEN y.ended < ${asOf} THEN y.ended + interval '5 minutes' END AS expired_at
      ) x`;
    // Booking g starts at an even spacing over the 90 days (every hour of the day, so business days and UTC
    // days differ), on a pass created up to 30 days before it (one in 500 has no pass).
    await sql`
      INSERT INTO bookings (pass_id, user_id, status, used_pass, attended, started_at, ended_at, cancelled_at)
      SELECT CASE WHEN g % 500 = 0 THEN NULL ELSE p.pass_id END, 1 + g % ${members},
             (CASE WHEN g % 12 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END)::booking_status,
             g % 12 <> 0 AND g % 500 <> 0, g % 12 <> 0 AND g % 7 <> 0, t.started, t.started + interval '50 minutes',
             CASE WHEN g % 12 = 0 THEN t.started - interval '1 day' END
      FROM generate_series(1, ${bookings}) g
      CROSS JOIN LATERAL (
        SELECT ${first}::timestamptz + (g - 1) * (interval '90 days' / ${bookings}) AS started
      ) t
      CROSS JOIN LATERAL (
        SELECT greatest(1, least(${passes},
          floor(extract(epoch FROM t.started - ${passesStart}::timestamptz) / 86400 * ${passes} / 120)::int
          - (g::bigint * 7919) % greatest(1, ${passes} / 4))) AS pass_id
      ) p`;
    await sql`ANALYZE`;
    return { items: DAYS };
  },
  /**
   * The job's own statement (src/db/queries/statistics.ts) for all 90 days at once, in one transaction:
   * the fewest statements that compute the figures. The reference arm below is the independent check.
   */
  async limit(_sql, asOf, { url, upTo }) {
    const days = daysBefore(asOf).filter((d) => upTo === undefined || dayKey(d.day) <= upTo);
    // A session of its own: Drizzle changes the date parsers of the client it wraps (the driver's
    // client must keep returning Dates). Its connect is a few milliseconds of the arm's time.
    const { db, close } = createDb({ url, max: 1 });
    try {
      const result = await db.transaction((tx) => upsertDailyStatistics(tx, { days, asOf }));
      return result.written;
    } finally {
      await close();
    }
  },
  /**
   * Per day, per figure, one query (grouped by package), the rows built in JavaScript and inserted one at a
   * time; commit every 5 days.
   */
  async reference(url, asOf, cap) {
    const { writer, end } = referenceSessions(url);
    let processed = 0;
    let lastKey = 0;
    const bookingFigure = (condition: string) => `
      SELECT p.package_id, count(*)::int AS n FROM bookings b LEFT JOIN passes p ON p.id = b.pass_id
      WHERE b.started_at >= {start} AND b.started_at < {end} AND ${condition} GROUP BY p.package_id`;
    const ending = `least(p.ended_at, p.expired_at) >= {start} AND least(p.ended_at, p.expired_at) < {end}
      AND coalesce(bp.count, pk.session_count) IS NOT NULL AND p.remaining_count IS NOT NULL`;
    const endingFigure = (value: string) => `
      SELECT p.package_id, ${value}::int AS n FROM passes p JOIN packages pk ON pk.id = p.package_id
      LEFT JOIN bulk_passes bp ON bp.id = p.bulk_pass_id WHERE ${ending} GROUP BY p.package_id`;
    const queries: Record<(typeof FIGURES)[number], string> = {
      bookings: bookingFigure(`b.status <> 'CANCELLED'`),
      attended: bookingFigure(`b.status <> 'CANCELLED' AND b.attended`),
      no_shows: bookingFigure(`b.status <> 'CANCELLED' AND NOT b.attended AND b.ended_at <= {asOf}`),
      cancelled: bookingFigure(`b.status = 'CANCELLED'`),
      sessions_deducted: bookingFigure('b.used_pass'),
      passes_issued: `SELECT package_id, count(*)::int AS n FROM passes p
        WHERE p.created_at >= {start} AND p.created_at < {end} GROUP BY package_id`,
      passes_expired: `SELECT package_id, count(*)::int AS n FROM passes p
        WHERE p.expired_at >= {start} AND p.expired_at < {end} GROUP BY package_id`,
      active_passes: `SELECT package_id, count(*)::int AS n FROM passes p
        WHERE p.started_at < {end} AND (p.ended_at IS NULL OR p.ended_at >= {end})
          AND (p.expired_at IS NULL OR p.expired_at >= {end}) GROUP BY package_id`,
      ending_passes: endingFigure('count(*)'),
      ending_sessions_sold: endingFigure('sum(coalesce(bp.count, pk.session_count))'),
      ending_sessions_used: endingFigure(
        'sum(greatest(least(coalesce(bp.count, pk.session_count) - p.remaining_count, coalesce(bp.count, pk.session_count)), 0))',
      ),
    };
    try {
      const days = daysBefore(asOf);
      for (let i = 0; i < days.length && processed < cap; i += 5) {
        const batch = days.slice(i, i + 5);
        await writer.begin(async (w) => {
          for (const d of batch) {
            // package id ('' for bookings without a pass) -> figure -> value
            const byPackage = new Map<string, Record<string, number>>();
            for (const figure of FIGURES) {
              const { text, params } = bind(queries[figure], {
                start: d.start.toISOString(),
                end: d.end.toISOString(),
                asOf: asOf.toISOString(),
              });
              const rows = await w.unsafe<{ package_id: string | null; n: number }[]>(text, params);
              for (const row of rows) {
                const key = row.package_id ?? '';
                const figures = byPackage.get(key) ?? {};
                figures[figure] = Number(row.n);
                byPackage.set(key, figures);
              }
            }
            const totals = Object.fromEntries(
              FIGURES.map((f) => [f, [...byPackage.values()].reduce((sum, v) => sum + (v[f] ?? 0), 0)]),
            );
            const rows: Array<[string | null, Record<string, number>]> = [[null, totals]];
            for (const [pkg, figures] of byPackage) {
              if (pkg !== '' && FIGURES.some((f) => (figures[f] ?? 0) !== 0)) rows.push([pkg, figures]);
            }
            for (const [pkg, figures] of rows) {
              await w.unsafe(
                `INSERT INTO statistics (day, package_id, ${FIGURES.join(', ')})
                 VALUES ($1, $2, ${FIGURES.map((_, j) => `$${j + 3}`).join(', ')})`,
                [d.day, pkg, ...FIGURES.map((f) => figures[f] ?? 0)],
              );
            }
          }
        });
        processed += batch.length;
        lastKey = dayKey(batch[batch.length - 1]!.day);
      }
    } finally {
      await end();
    }
    return { processed, lastKey };
  },
  async fingerprint(sql, upTo) {
    const [row] = await sql.unsafe<{ hash: string }[]>(
      `SELECT md5(string_agg(day || ':' || coalesce(package_id::text, '-') || ':' || concat_ws(':', ${FIGURES.join(', ')}),
                    ',' ORDER BY day, package_id NULLS FIRST)) AS hash
       FROM statistics WHERE to_char(day, 'YYYYMMDD')::int <= $1`,
      [upTo ?? 99_999_999],
    );
    return row!.hash;
  },
  params(asOf) {
    const days = daysBefore(asOf);
    return { from: days[0]!.day, to: days[days.length - 1]!.day };
  },
  settings(_partitions, chunkSize) {
    // Days are computed in order, one chunk of days per transaction: the step has no key range to split.
    return { steps: { compute: chunkSize ? { chunkSize } : {} } };
  },
};
