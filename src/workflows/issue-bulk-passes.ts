import { sleep } from '@temporalio/workflow';
import type { JobInput, JobResult } from '../jobs/definition.ts';
import { issueBulkPassesJob } from '../jobs/issue-bulk-passes.ts';
import { runJob } from './run-job.ts';
import { markRun } from './search-attributes.ts';

/** Issue the passes of every due bulk pass, then mark the bulk passes COMPLETED — as of the run's time. */
export async function issueBulkPasses(input: JobInput = {}): Promise<JobResult> {
  return runJob(issueBulkPassesJob, input);
}

/** IDs and a time only: the workflow argument is visible in the Web UI. */
export interface IssueBulkPassAtInput {
  bulkPassId: number;
  /** ISO-8601 instant, whole seconds: the bulk pass's issue time. */
  issueAt: string;
}

/**
 * One bulk pass issued at its chosen time: a durable timer until `issueAt` (it survives worker and server
 * restarts), then the issue-bulk-passes run for that bulk pass alone, as of `issueAt`. Started by every
 * grant (`startGrantIssue` in src/client/grant.ts). The hourly issue-bulk-passes schedule is the safety net
 * for a grant whose workflow could not be started; when both reach the same bulk pass, the inserts'
 * ON CONFLICT DO NOTHING leaves one pass per member.
 */
export async function issueBulkPassAt(input: IssueBulkPassAtInput): Promise<JobResult> {
  const wait = new Date(input.issueAt).getTime() - Date.now();
  if (wait > 0) {
    markRun(issueBulkPassesJob.name, 'WAITING');
    await sleep(wait);
  }
  return runJob(issueBulkPassesJob, { asOf: input.issueAt, params: { bulkPassId: input.bulkPassId } });
}
