import { z } from 'zod';
import { defineJob, step } from './definition.ts';

/**
 * `issue-bulk-passes` as of T, over every READY bulk pass that is due (`issue_at`, or else `started_at`,
 * at or before T):
 *  1. issue — each ACTIVE member of the bulk pass's group gets one pass; INACTIVE members are passed over;
 *  2. complete — a bulk pass none of whose ACTIVE members lacks a pass becomes COMPLETED, with the number
 *     of passes issued and of INACTIVE members skipped counted from the tables.
 * The rules themselves are SQL in src/db/queries/bulk-passes.ts.
 */
export const issueBulkPassesJob = defineJob({
  name: 'issue-bulk-passes',
  workflowType: 'issueBulkPasses',
  description: 'Issue the passes of every bulk pass that is due to the ACTIVE members of its group.',
  params: z
    .object({
      /** Restricts the run to one bulk pass (a grant run at once); still only when it is due. */
      bulkPassId: z.number().int().positive().optional(),
    })
    .strict(),
  // A grant's run is its own instance: it neither blocks nor is satisfied by the minute's scheduled run.
  instanceKey: (params) => (params.bulkPassId === undefined ? undefined : `bulk-${params.bulkPassId}`),
  // 5000 members per chunk: measured fastest for this step (npm run bench -- --sweep-chunks, README Performance).
  steps: [step('issue', { chunkSize: 5000 }), step('complete', { chunkSize: 100 })],
});
