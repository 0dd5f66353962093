import type { JobInput, JobResult } from '../jobs/definition.ts';
import { statisticsJob } from '../jobs/statistics.ts';
import { runJob } from './run-job.ts';

/** Compute and upsert the daily statistics of a day or range (yesterday, on a schedule). */
export async function statistics(input: JobInput = {}): Promise<JobResult> {
  return runJob(statisticsJob, input);
}
