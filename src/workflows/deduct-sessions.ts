import { deductSessionsJob } from '../jobs/deduct-sessions.ts';
import type { JobInput, JobResult } from '../jobs/definition.ts';
import { runJob } from './run-job.ts';

/** Deduct one session per ended class from its pass, exactly once per booking, as of the run's logical time. */
export async function deductSessions(input: JobInput = {}): Promise<JobResult> {
  return runJob(deductSessionsJob, input);
}
