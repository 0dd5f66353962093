import { z } from 'zod';
import { addDays, businessDayOf, isBusinessDay } from '../time.ts';
import { defineJob, step } from './definition.ts';

/**
 * `statistics` — the daily figures of a studio, per business day and per package, upserted so that a
 * re-run over the same days leaves identical rows. The figures are SQL in src/db/queries/statistics.ts;
 * README "Statistics" defines each one.
 *
 * Params: `{ day }`, `{ from, to }` (inclusive, at most MAX_STATISTICS_DAYS), or nothing: a scheduled run
 * computes the business day before its as-of. The step walks the days in order, `chunkSize` days per
 * chunk transaction, with the day as the keyset key.
 */

export const MAX_STATISTICS_DAYS = 366;

const businessDay = z
  .string()
  .refine(isBusinessDay, { message: 'must be a calendar day YYYY-MM-DD, e.g. 2026-11-21' });

export const statisticsParams = z
  .object({ day: businessDay.optional(), from: businessDay.optional(), to: businessDay.optional() })
  .strict()
  .superRefine((p, ctx) => {
    if (p.day !== undefined && (p.from !== undefined || p.to !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['day'], message: 'give either day or from and to, not both' });
      return;
    }
    if ((p.from === undefined) !== (p.to === undefined)) {
      const missing = p.from === undefined ? 'from' : 'to';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: 'from and to go together; both are required',
      });
      return;
    }
    if (p.from !== undefined && p.to !== undefined) {
      if (p.from > p.to) {
        ctx.addIssue({ code: 'custom', path: ['to'], message: `${p.to} is before from (${p.from})` });
      } else if (p.to > addDays(p.from, MAX_STATISTICS_DAYS - 1)) {
        ctx.addIssue({
          code: 'custom',
          path: ['to'],
          message: `the range is longer than ${MAX_STATISTICS_DAYS} days; split the backfill into several runs`,
        });
      }
    }
  });

export type StatisticsParams = z.output<typeof statisticsParams>;

export interface DayRange {
  /** First business day, inclusive. */
  from: string;
  /** Last business day, inclusive. */
  to: string;
}

/** The days a run covers: its day or range, or — a scheduled run — the business day before its as-of. */
export function statisticsDays(params: StatisticsParams, asOf: Date, timeZone: string): DayRange {
  if (params.day) return { from: params.day, to: params.day };
  if (params.from && params.to) return { from: params.from, to: params.to };
  const yesterday = addDays(businessDayOf(asOf, timeZone), -1);
  return { from: yesterday, to: yesterday };
}

/** The next `limit` days of the range after `after` (the checkpoint), in order. */
export function nextDays(range: DayRange, after: string | null, limit: number): string[] {
  const days: string[] = [];
  let day = after === null ? range.from : addDays(after, 1);
  if (day < range.from) day = range.from;
  while (day <= range.to && days.length < limit) {
    days.push(day);
    day = addDays(day, 1);
  }
  return days;
}

export const statisticsJob = defineJob({
  name: 'statistics',
  workflowType: 'statistics',
  description:
    'Daily studio figures (bookings, attendance, sessions, passes) per business day and package; yesterday by default.',
  params: statisticsParams,
  // Days in a chunk transaction. Every chunk scans the passes once more and pays its transaction and
  // checkpoint, ~25 ms at the bench's ~22,500 passes, while a day costs ~22 ms (npm run bench, 2026-12-01):
  // at 7 days a 90-day backfill took 1.17-1.27x its one-statement limit, at 30 days 1.04-1.08x. So 30: a
  // 90-day backfill is 3 idempotent transactions of well under a second each.
  steps: [step('compute', { chunkSize: 30 })],
  // A day or range is part of the instance: `--day 2026-11-20` and `--day 2026-11-19` launched in the same
  // minute are two instances. A scheduled run (no params) keeps the schedule's plain ID.
  instanceKey: (p) => p.day ?? (p.from && p.to ? `${p.from}..${p.to}` : undefined),
  options: {
    day: { placeholder: 'YYYY-MM-DD', description: 'statistics: the business day to compute' },
    from: { placeholder: 'YYYY-MM-DD', description: 'statistics: first day of a range (with --to)' },
    to: { placeholder: 'YYYY-MM-DD', description: 'statistics: last day of a range, inclusive' },
  },
});
