import { pruneJobRunsChunk } from '../db/queries/runs.ts';
import type { StepHandler } from './step-runner.ts';

const DAY_MS = 86_400_000;

/** Used when neither the run nor the worker (RUN_RETENTION_DAYS, through paramDefaults) says otherwise. */
export const DEFAULT_RETENTION_DAYS = 90;

/** Steps of `prune-run-records`. */
export const pruneRunRecordsSteps: Record<string, StepHandler<{ retentionDays?: number }>> = {
  prune: {
    chunk: (tx, ctx) =>
      pruneJobRunsChunk(tx, {
        cutoff: new Date(ctx.asOf.getTime() - (ctx.params.retentionDays ?? DEFAULT_RETENTION_DAYS) * DAY_MS),
        after: ctx.after,
        limit: ctx.limit,
      }),
  },
};
