import type { JobInput, JobResult } from '../jobs/definition.ts';
import { importBookingsJob } from '../jobs/import-bookings.ts';
import { runJob } from './run-job.ts';

/** Upsert the bookings of one staged import file. */
export async function importBookings(input: JobInput = {}): Promise<JobResult> {
  return runJob(importBookingsJob, input);
}
