import { applyClosureJob } from '../jobs/apply-closure.ts';
import type { JobInput, JobResult } from '../jobs/definition.ts';
import { runJob } from './run-job.ts';

/** Extend every pass active during a studio closure by the closed days, once per closure and pass. */
export async function applyClosure(input: JobInput = {}): Promise<JobResult> {
  return runJob(applyClosureJob, input);
}
