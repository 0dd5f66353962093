// Every workflow the worker registers. One file per job; the shared orchestration is run-job.ts.

export { classReminders } from './class-reminders.ts';
export { passExpiryReminders } from './pass-expiry-reminders.ts';
export { passLifecycle } from './pass-lifecycle.ts';
