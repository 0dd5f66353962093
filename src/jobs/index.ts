import { applyClosureJob } from './apply-closure.ts';
import { classRemindersJob } from './class-reminders.ts';
import { deductSessionsJob } from './deduct-sessions.ts';
import type { JobDefinition } from './definition.ts';
import { importBookingsJob } from './import-bookings.ts';
import { importMembersJob } from './import-members.ts';
import { issueBulkPassesJob } from './issue-bulk-passes.ts';
import { passExpiryRemindersJob } from './pass-expiry-reminders.ts';
import { passLifecycleJob } from './pass-lifecycle.ts';
import { pruneRunRecordsJob } from './prune-run-records.ts';
import { statisticsJob } from './statistics.ts';

export { applyClosureJob } from './apply-closure.ts';
export { classRemindersJob } from './class-reminders.ts';
export { deductSessionsJob } from './deduct-sessions.ts';
export * from './definition.ts';
export { importBookingsJob } from './import-bookings.ts';
export { importMembersJob } from './import-members.ts';
export * from './imports.ts';
export { issueBulkPassesJob } from './issue-bulk-passes.ts';
export {
  DEFAULT_QUIET_HOURS,
  parseQuietHours,
  passExpiryRemindersJob,
  type QuietHours,
} from './pass-expiry-reminders.ts';
export { passLifecycleJob } from './pass-lifecycle.ts';
export { pruneRunRecordsJob } from './prune-run-records.ts';
export { statisticsJob } from './statistics.ts';

/** Every job ptpass runs, by name. The CLI, the worker and the schedules all read this one list. */
export const JOBS = {
  [passLifecycleJob.name]: passLifecycleJob,
  [pruneRunRecordsJob.name]: pruneRunRecordsJob,
  [deductSessionsJob.name]: deductSessionsJob,
  [statisticsJob.name]: statisticsJob,
  [issueBulkPassesJob.name]: issueBulkPassesJob,
  [classRemindersJob.name]: classRemindersJob,
  [passExpiryRemindersJob.name]: passExpiryRemindersJob,
  [applyClosureJob.name]: applyClosureJob,
  [importMembersJob.name]: importMembersJob,
  [importBookingsJob.name]: importBookingsJob,
} as const satisfies Record<string, JobDefinition>;

export type JobName = Extract<keyof typeof JOBS, string>;
export const JOB_NAMES = Object.keys(JOBS) as JobName[];

export function findJob(name: string): JobDefinition | undefined {
  return (JOBS as Record<string, JobDefinition>)[name];
}
