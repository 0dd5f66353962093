import type { JobInput, JobResult } from '../jobs/definition.ts';
import { pruneRunRecordsJob } from '../jobs/prune-run-records.ts';
import { runJob } from './run-job.ts';

/** Delete run records, API idempotency keys and finished imports older than the retention age, in chunks. */
export async function pruneRunRecords(input: JobInput = {}): Promise<JobResult> {
  return runJob(pruneRunRecordsJob, input);
}
