import { z } from 'zod';
import { defineJob, step } from './definition.ts';

/**
 * `prune-run-records` as of T: deletes the bookkeeping older than `retentionDays` before T that would
 * otherwise grow without bound (README "Retention"), a step each: finished `job_runs` (with their
 * `step_runs` and skip records; runs still RUNNING are never deleted), the API's `Idempotency-Key`
 * records, and finished CSV imports — their staged rows in pages first, then the imports themselves.
 */
export const pruneRunRecordsJob = defineJob({
  name: 'prune-run-records',
  workflowType: 'pruneRunRecords',
  description:
    'Delete finished run records, API idempotency keys and finished imports older than the retention age (default 90 days).',
  params: z
    .object({
      retentionDays: z.number().int().min(1).max(3650).optional(),
    })
    .strict(),
  steps: [
    step('prune', { chunkSize: 500 }),
    // Added after the first runs: runs begun before replay without them.
    step('idempotency-keys', { chunkSize: 2000, since: 'prune-retention-steps' }),
    step('import-rows', { chunkSize: 5000, since: 'prune-retention-steps' }),
    step('imports', { chunkSize: 100, since: 'prune-retention-steps' }),
  ],
});
