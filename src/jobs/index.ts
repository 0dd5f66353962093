import { classRemindersJob } from './class-reminders.ts';
import type { JobDefinition } from './definition.ts';
import { passExpiryRemindersJob } from './pass-expiry-reminders.ts';
import { passLifecycleJob } from './pass-lifecycle.ts';

export { classRemindersJob } from './class-reminders.ts';
export * from './definition.ts';
export {
  DEFAULT_QUIET_HOURS,
  parseQuietHours,
  passExpiryRemindersJob,
  type QuietHours,
} from './pass-expiry-reminders.ts';
export { passLifecycleJob } from './pass-lifecycle.ts';

/** Every job ptpass runs, by name. The CLI, the worker and the schedules all read this one list. */
export const JOBS = {
  [passLifecycleJob.name]: passLifecycleJob,
  [classRemindersJob.name]: classRemindersJob,
  [passExpiryRemindersJob.name]: passExpiryRemindersJob,
} as const satisfies Record<string, JobDefinition>;

export type JobName = keyof typeof JOBS;
export const JOB_NAMES = Object.keys(JOBS) as JobName[];

export function findJob(name: string): JobDefinition | undefined {
  return (JOBS as Record<string, JobDefinition>)[name];
}
