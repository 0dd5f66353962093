import type { JobInput, JobResult } from '../jobs/definition.ts';
import { passExpiryRemindersJob } from '../jobs/pass-expiry-reminders.ts';
import { runJob } from './run-job.ts';

/** Queue one reminder per pass milestone (ending soon, last session), then send those that are due. */
export async function passExpiryReminders(input: JobInput = {}): Promise<JobResult> {
  return runJob(passExpiryRemindersJob, input);
}
