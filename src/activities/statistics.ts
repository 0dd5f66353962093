import { upsertDailyStatistics } from '../db/queries/statistics.ts';
import { nextDays, statisticsDays, statisticsJob } from '../jobs/statistics.ts';
import { addDays, startOfBusinessDay } from '../time.ts';
import type { StepHandler } from './step-runner.ts';

/**
 * Steps of the `statistics` job. The keyset key is the business day: a chunk computes the next
 * `chunkSize` days after the checkpoint and upserts their rows in the chunk's transaction, so a retried or
 * crashed chunk recomputes the same days into the same rows. Day boundaries come from src/time.ts in the
 * worker's BUSINESS_TIMEZONE.
 */
export function createStatisticsSteps(deps: { businessTimeZone: string }): Record<string, StepHandler> {
  const zone = deps.businessTimeZone;
  return {
    compute: {
      async chunk(tx, ctx) {
        // The workflow validated the params; parsing again gives them their type.
        const range = statisticsDays(statisticsJob.params.parse(ctx.params), ctx.asOf, zone);
        const days = nextDays(range, ctx.after, ctx.limit);
        if (days.length === 0) return { read: 0, written: 0, lastKey: null };
        const windows = days.map((day) => ({
          day,
          start: startOfBusinessDay(day, zone),
          end: startOfBusinessDay(addDays(day, 1), zone),
        }));
        return upsertDailyStatistics(tx, { days: windows, asOf: ctx.asOf });
      },
    },
  };
}
