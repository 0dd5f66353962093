import {
  anyOldIdempotencyKey,
  anyOldImport,
  anyOldJobRun,
  pruneIdempotencyKeysChunk,
  pruneImportsChunk,
  pruneJobRunsChunk,
  pruneStagedImportRowsChunk,
} from '../db/queries/retention.ts';
import type { StepHandler } from './step-runner.ts';

const DAY_MS = 86_400_000;

/** Used when neither the run nor the worker (RUN_RETENTION_DAYS, through paramDefaults) says otherwise. */
export const DEFAULT_RETENTION_DAYS = 90;

type Params = { retentionDays?: number };

const cutoff = (ctx: { asOf: Date; params: Params }) =>
  new Date(ctx.asOf.getTime() - (ctx.params.retentionDays ?? DEFAULT_RETENTION_DAYS) * DAY_MS);

/** A step that deletes one kind of record past the retention age, page by page. */
const prune = (chunk: typeof pruneJobRunsChunk, anyOld: typeof anyOldJobRun): StepHandler<Params> => ({
  chunk: (tx, ctx) => chunk(tx, { cutoff: cutoff(ctx), after: ctx.after, limit: ctx.limit }),
  hasWork: (db, ctx) => anyOld(db, { cutoff: cutoff(ctx) }),
});

/** Steps of `prune-run-records`. */
export const pruneRunRecordsSteps: Record<string, StepHandler<Params>> = {
  prune: prune(pruneJobRunsChunk, anyOldJobRun),
  'idempotency-keys': prune(pruneIdempotencyKeysChunk, anyOldIdempotencyKey),
  'import-rows': prune(pruneStagedImportRowsChunk, anyOldImport),
  imports: prune(pruneImportsChunk, anyOldImport),
};
