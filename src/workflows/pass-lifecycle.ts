import type { JobInput, JobResult } from '../jobs/definition.ts';
import { passLifecycleJob } from '../jobs/pass-lifecycle.ts';
import { runJob } from './run-job.ts';

/** Activate passes that started, then expire passes that ended or ran out — as of the run's logical time. */
export async function passLifecycle(input: JobInput = {}): Promise<JobResult> {
  return runJob(passLifecycleJob, input);
}
