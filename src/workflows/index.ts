// Every workflow the worker registers. One file per job; the shared orchestration is run-job.ts.

export { classReminders } from './class-reminders.ts';
export { deductSessions } from './deduct-sessions.ts';
export { issueBulkPasses } from './issue-bulk-passes.ts';
export { passExpiryReminders } from './pass-expiry-reminders.ts';
export { passLifecycle } from './pass-lifecycle.ts';
export { pruneRunRecords } from './prune-run-records.ts';
export { statistics } from './statistics.ts';

// Every job's workflow type is exported above: a job added to JOBS without its workflow does not compile.
import type { JobInput, JobResult } from '../jobs/definition.ts';
import type { JOBS } from '../jobs/index.ts';
import * as workflows from './index.ts';

type WorkflowType = (typeof JOBS)[keyof typeof JOBS]['workflowType'];
workflows satisfies Record<WorkflowType, (input?: JobInput) => Promise<JobResult>>;
