import {
  completeBulkPassesChunk,
  countIssues,
  issueBulkPassesChunk,
  issueKeyRange,
} from '../db/queries/bulk-passes.ts';
import type { StepHandler } from './step-runner.ts';

interface IssueBulkPassesParams {
  bulkPassId?: number;
}

/**
 * Steps of the `issue-bulk-passes` job; the rules are the SQL in src/db/queries/bulk-passes.ts.
 *
 * INACTIVE members are not engine skips: they are not bad data, and a large group with many lapsed members
 * must not trip the step's skip limit. They are read (counted in the step's `read`) but not written, and the
 * complete step records how many there were on the bulk pass itself (`skipped_count`).
 */
export const issueBulkPassesSteps = (
  timeZone: string,
): Record<string, StepHandler<IssueBulkPassesParams>> => ({
  issue: {
    chunk: (tx, ctx) =>
      issueBulkPassesChunk(tx, {
        asOf: ctx.asOf,
        after: ctx.after,
        upTo: ctx.upTo,
        limit: ctx.limit,
        bulkPassId: ctx.params.bulkPassId,
        timeZone,
      }),
    // Partitions split the members by user ID; each walks its members of every due bulk pass.
    keyRange: (db) => issueKeyRange(db),
    estimateRows: (db, ctx) => countIssues(db, { asOf: ctx.asOf, bulkPassId: ctx.params.bulkPassId }),
  },
  complete: {
    chunk: (tx, ctx) =>
      completeBulkPassesChunk(tx, {
        asOf: ctx.asOf,
        after: ctx.after,
        limit: ctx.limit,
        bulkPassId: ctx.params.bulkPassId,
      }),
  },
});
