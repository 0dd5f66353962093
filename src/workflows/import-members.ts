import type { JobInput, JobResult } from '../jobs/definition.ts';
import { importMembersJob } from '../jobs/import-members.ts';
import { runJob } from './run-job.ts';

/** Upsert the members of one staged import file. */
export async function importMembers(input: JobInput = {}): Promise<JobResult> {
  return runJob(importMembersJob, input);
}
