import { pruneJobRunsChunk } from '../db/queries/runs.ts';
import type { StepHandler } from './step-runner.ts';

const DAY_MS = 86_400_000;

/** Steps of `prune-run-records`; the retention default comes from RUN_RETENTION_DAYS. */
export function pruneRunRecordsSteps(
  defaultRetentionDays: number,
): Record<string, StepHandler<{ retentionDays?: number }>> {
  return {
    prune: {
      chunk: (tx, ctx) =>
        pruneJobRunsChunk(tx, {
          cutoff: new Date(ctx.asOf.getTime() - (ctx.params.retentionDays ?? defaultRetentionDays) * DAY_MS),
          after: ctx.after,
          limit: ctx.limit,
        }),
    },
  };
}
