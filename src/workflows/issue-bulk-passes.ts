import type { JobInput, JobResult } from '../jobs/definition.ts';
import { issueBulkPassesJob } from '../jobs/issue-bulk-passes.ts';
import { runJob } from './run-job.ts';

/** Issue the passes of every due bulk pass, then mark the bulk passes COMPLETED — as of the run's time. */
export async function issueBulkPasses(input: JobInput = {}): Promise<JobResult> {
  return runJob(issueBulkPassesJob, input);
}
