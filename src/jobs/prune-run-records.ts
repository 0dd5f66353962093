import { z } from 'zod';
import { defineJob, step } from './definition.ts';

/**
 * `prune-run-records` as of T: deletes finished `job_runs` (and with them their `step_runs` and skip
 * records) that ended more than `retentionDays` before T — the run metadata that grows without bound in
 * Spring Batch. Runs still RUNNING are never deleted.
 */
export const pruneRunRecordsJob = defineJob({
  name: 'prune-run-records',
  workflowType: 'pruneRunRecords',
  description: 'Delete finished run records older than the retention age (default 90 days).',
  params: z
    .object({
      retentionDays: z.number().int().min(1).max(3650).optional(),
    })
    .strict(),
  steps: [step('prune', { chunkSize: 500 })],
});
