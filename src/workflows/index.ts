// Every workflow the worker registers. One file per job; the shared orchestration is run-job.ts.
export { passLifecycle } from './pass-lifecycle.ts';
export { statistics } from './statistics.ts';
