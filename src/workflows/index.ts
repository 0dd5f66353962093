// Every workflow the worker registers. One file per job; the shared orchestration is run-job.ts.

export { classReminders } from './class-reminders.ts';
export { deductSessions } from './deduct-sessions.ts';
export { importBookings } from './import-bookings.ts';
export { importMembers } from './import-members.ts';
export { issueBulkPasses } from './issue-bulk-passes.ts';
export { passExpiryReminders } from './pass-expiry-reminders.ts';
export { passLifecycle } from './pass-lifecycle.ts';
export { pruneRunRecords } from './prune-run-records.ts';
export { statistics } from './statistics.ts';
