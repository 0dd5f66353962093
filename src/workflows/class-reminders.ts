import { classRemindersJob } from '../jobs/class-reminders.ts';
import type { JobInput, JobResult } from '../jobs/definition.ts';
import { runJob } from './run-job.ts';

/** Queue reminders for classes starting within 10 minutes of the run's logical time, then send what is due. */
export async function classReminders(input: JobInput = {}): Promise<JobResult> {
  return runJob(classRemindersJob, input);
}
