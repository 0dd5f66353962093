import type { JobDefinition } from './definition.ts';
import { issueBulkPassesJob } from './issue-bulk-passes.ts';
import { passLifecycleJob } from './pass-lifecycle.ts';

export * from './definition.ts';
export { issueBulkPassesJob } from './issue-bulk-passes.ts';
export { passLifecycleJob } from './pass-lifecycle.ts';

/** Every job ptpass runs, by name. The CLI, the worker and the schedules all read this one list. */
export const JOBS = {
  [passLifecycleJob.name]: passLifecycleJob,
  [issueBulkPassesJob.name]: issueBulkPassesJob,
} as const satisfies Record<string, JobDefinition>;

export type JobName = keyof typeof JOBS;
export const JOB_NAMES = Object.keys(JOBS) as JobName[];

export function findJob(name: string): JobDefinition | undefined {
  return (JOBS as Record<string, JobDefinition>)[name];
}
