import type { Db } from '../db/client.ts';
import {
  findStepRanges,
  finishJobRun,
  insertJobRun,
  type NewJobRun,
  recordStepWithNothingToDo,
} from '../db/queries/runs.ts';
import { type JobResult, ROWS_PER_PARTITION } from '../jobs/definition.ts';
import { findJob, type JobName } from '../jobs/index.ts';
import type { Logger } from '../logger.ts';
import { applyClosureSteps } from './apply-closure.ts';
import { throughDatabaseOutages } from './database-outage.ts';
import { deductSessionsSteps } from './deduct-sessions.ts';
import { importBookingsSteps, importMembersSteps } from './imports.ts';
import { issueBulkPassesSteps } from './issue-bulk-passes.ts';
import { createLogNotifier, type Notifier } from './notifications/notifier.ts';
import { alertOperator } from './notifications/operator-alert.ts';
import { classReminderSteps, passExpiryReminderSteps } from './notifications/steps.ts';
import { passLifecycleSteps } from './pass-lifecycle.ts';
import { pruneRunRecordsSteps } from './prune-run-records.ts';
import { createStatisticsSteps } from './statistics.ts';
import {
  coverKeySpace,
  findHandler,
  runStep,
  type StepHandler,
  type StepInput,
  type StepRunnerDeps,
  type StepRunnerHooks,
  splitKeyRange,
} from './step-runner.ts';

export { ROWS_PER_PARTITION };

/**
 * The partition count a run picks when its settings do not say: one per `rowsPerPartition` rows the step
 * will read (ROWS_PER_PARTITION unless the step says; the rows are its handler's `estimateRows`, else the
 * span of its key range, an upper bound), at least the step's declared default, and at most a quarter of
 * the worker's activity slots (so other runs and deliveries keep slots), capped at 8 (about what one
 * PostgreSQL server's cores absorb). With 16 slots: up to 4 partitions.
 */
export function choosePartitions(
  rows: number,
  slots: number,
  declared = 1,
  rowsPerPartition = ROWS_PER_PARTITION,
): number {
  const byRows = Math.floor(rows / rowsPerPartition);
  const bySlots = Math.max(1, Math.min(8, Math.floor(slots / 4)));
  return Math.max(declared, Math.min(byRows, bySlots), 1);
}

/** How many keys a bigint key range spans (an upper bound of its rows); 0 for other keys (UUIDs). */
function keySpan(range: { min: string; max: string }): number {
  if (!/^\d+$/.test(range.min) || !/^\d+$/.test(range.max)) return 0;
  return Number(BigInt(range.max) - BigInt(range.min) + 1n);
}

export interface ActivityDeps {
  db: Db;
  logger: Logger;
  /** IANA zone of business days (BUSINESS_TIMEZONE): where a statistics day starts and ends. */
  businessTimeZone: string;
  /** Aborted when the worker is asked to stop; running steps stop after their current chunk. */
  stopSignal?: AbortSignal;
  /** Parameter defaults from this worker's configuration, by job (see StepRunnerDeps). */
  paramDefaults?: StepRunnerDeps['paramDefaults'];
  /** How reminders are rendered and sent; the log channel with defaults when absent. */
  notifier?: Notifier;
  /** Where a failed job run is reported through the notifier (OPERATOR_ALERT_TO); no alert when absent. */
  operatorAlertTo?: string;
  /** Activities this worker runs at once (WORKER_ACTIVITY_SLOTS): bounds the partitions a run picks itself. */
  activitySlots?: number;
  hooks?: StepRunnerHooks & {
    onJobFinished?(info: {
      job: string;
      status: 'COMPLETED' | 'FAILED' | 'STOPPED';
      result: JobResult;
      error?: string;
    }): void | Promise<void>;
  };
}

type JobStepHandlers = Record<string, StepHandler<never>>;

/**
 * Step handlers of every job, by job name then step name; a factory when the handlers need the worker's
 * dependencies (resolved once per `createActivities`).
 */
export const STEP_HANDLERS = {
  'pass-lifecycle': passLifecycleSteps,
  'deduct-sessions': deductSessionsSteps,
  'prune-run-records': pruneRunRecordsSteps,
  statistics: createStatisticsSteps,
  'issue-bulk-passes': (deps) => issueBulkPassesSteps(deps.businessTimeZone),
  'class-reminders': (deps) => classReminderSteps(notifierOf(deps)),
  'pass-expiry-reminders': (deps) => passExpiryReminderSteps(notifierOf(deps)),
  'apply-closure': (deps) => applyClosureSteps(deps.businessTimeZone),
  'import-members': importMembersSteps,
  'import-bookings': (deps) => importBookingsSteps(deps.businessTimeZone),
  // Every job has its handlers: a job added to JOBS without them does not compile.
} satisfies Record<JobName, JobStepHandlers | ((deps: ActivityDeps) => JobStepHandlers)>;

function notifierOf(deps: ActivityDeps): Notifier {
  return deps.notifier ?? createLogNotifier(deps.logger);
}

function resolveStepHandlers(deps: ActivityDeps): Record<string, JobStepHandlers> {
  return Object.fromEntries(
    Object.entries(STEP_HANDLERS).map(
      ([job, h]: [string, JobStepHandlers | ((d: ActivityDeps) => JobStepHandlers)]) => [
        job,
        typeof h === 'function' ? h(deps) : h,
      ],
    ),
  );
}

/**
 * All activities, wired to their dependencies. Workflows proxy `ReturnType<typeof createActivities>`;
 * nothing here reaches for globals.
 */
export function createActivities(deps: ActivityDeps) {
  const handlers = resolveStepHandlers(deps);
  const runnerDeps = { ...deps, handlers };
  return {
    async startJobRun(run: NewJobRun): Promise<{ jobRunId: string }> {
      await insertJobRun(deps.db, run);
      deps.logger.info('job started', {
        job: run.job,
        jobRunId: run.jobRunId,
        workflowId: run.workflowId,
        asOf: run.asOf,
        dryRun: run.dryRun,
      });
      return { jobRunId: run.jobRunId };
    },

    async finishJobRun(input: {
      jobRunId: string;
      status: 'COMPLETED' | 'FAILED' | 'STOPPED';
      result: JobResult;
      error?: string;
    }): Promise<{ read: number; written: number; skipped: number }> {
      const { result } = input;
      const recorded = await finishJobRun(deps.db, {
        jobRunId: input.jobRunId,
        status: input.status,
        read: result.read,
        written: result.written,
        skipped: result.skipped,
        result: result as unknown as Record<string, unknown>,
        error: input.error,
      });
      const fields = { job: result.job, jobRunId: input.jobRunId, ...recorded };
      if (input.status === 'FAILED') {
        deps.logger.error('job failed', { ...fields, error: input.error });
        if (deps.operatorAlertTo) {
          const alert = await alertOperator(
            { db: deps.db, notifier: notifierOf(deps) },
            deps.operatorAlertTo,
            {
              jobRunId: input.jobRunId,
              job: result.job,
              asOf: result.asOf,
              error: input.error ?? 'unknown error',
            },
          );
          deps.logger.info('operator alerted', {
            job: result.job,
            jobRunId: input.jobRunId,
            delivery: alert,
          });
        }
      } else if (input.status === 'STOPPED')
        deps.logger.warn('job stopped', { ...fields, error: input.error });
      else deps.logger.info('job completed', fields);
      await deps.hooks?.onJobFinished?.({
        job: result.job,
        status: input.status,
        result: { ...result, ...recorded },
        error: input.error,
      });
      // What the run record says it did (for a failed or stopped run, its step records' counts).
      return recorded;
    },

    /**
     * Key ranges of a step's partitions: `partitions` as the run asked, or 0 for `choosePartitions`; none
     * when the step has nothing to do (its `hasWork`), which the workflow then does not run.
     */
    async planStep(input: {
      jobRunId?: string;
      job: string;
      step: string;
      partitions: number;
      /** The run's logical time and parameters, for the step's row estimate (absent in older runs). */
      asOf?: string;
      params?: Record<string, unknown>;
      /** The run asked for the step to run (one partition): no `hasWork` check. */
      always?: boolean;
    }) {
      const handler = findHandler(runnerDeps, input.job, input.step);
      // A restart keeps the partitions of the run it continues, so each resumes from its own checkpoint.
      const earlier = input.jobRunId ? await findStepRanges(deps.db, input.jobRunId, input.step) : [];
      if (earlier.length > 0) return coverKeySpace(earlier);
      const ctx = input.asOf
        ? { asOf: new Date(input.asOf), params: { ...deps.paramDefaults?.[input.job], ...input.params } }
        : undefined;
      // Nothing due: the step is recorded as completed with nothing read, and no range is returned, so the
      // workflow runs no activity for it (a restart finds the record and keeps it).
      if (
        input.jobRunId &&
        ctx &&
        !input.always &&
        handler.hasWork &&
        !(await handler.hasWork(deps.db, ctx))
      ) {
        await recordStepWithNothingToDo(deps.db, { jobRunId: input.jobRunId, step: input.step });
        return [];
      }
      const range = handler.keyRange ? await handler.keyRange(deps.db, ctx) : null;
      if (!range) return splitKeyRange(null, 1);
      if (input.partitions) return splitKeyRange(range, input.partitions);
      const stepDef = findJob(input.job)?.steps.find((s) => s.name === input.step);
      const rows =
        range.rows ??
        (handler.estimateRows && ctx ? await handler.estimateRows(deps.db, ctx) : keySpan(range));
      const count = Math.min(
        choosePartitions(rows, deps.activitySlots ?? 16, stepDef?.partitions, stepDef?.rowsPerPartition),
        handler.maxPartitions ?? Number.POSITIVE_INFINITY,
      );
      return splitKeyRange(range, count);
    },

    runStep(input: StepInput) {
      return throughDatabaseOutages(runnerDeps, () => runStep(runnerDeps, input));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
