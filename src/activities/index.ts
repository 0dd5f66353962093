import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../db/client.ts';
import { finishJobRun, insertJobRun, type NewJobRun } from '../db/queries/runs.ts';
import type { JobResult } from '../jobs/definition.ts';
import type { Logger } from '../logger.ts';
import { createLogNotifier, type Notifier } from './notifications/notifier.ts';
import { classReminderSteps, passExpiryReminderSteps } from './notifications/steps.ts';
import { passLifecycleSteps } from './pass-lifecycle.ts';
import {
  runStep,
  type StepHandler,
  type StepInput,
  type StepRunnerHooks,
  splitKeyRange,
} from './step-runner.ts';

export interface ActivityDeps {
  db: Db;
  logger: Logger;
  /** Aborted when the worker is asked to stop; running steps stop after their current chunk. */
  stopSignal?: AbortSignal;
  /** How reminders are rendered and sent; the log channel with defaults when absent. */
  notifier?: Notifier;
  hooks?: StepRunnerHooks & {
    onJobFinished?(info: {
      job: string;
      status: 'COMPLETED' | 'FAILED';
      result: JobResult;
      error?: string;
    }): void | Promise<void>;
  };
}

/** Step handlers of every job, by job name then step name. */
export const STEP_HANDLERS: Record<string, Record<string, StepHandler<never>>> = {
  'pass-lifecycle': passLifecycleSteps,
};

/** Step handlers that need injected dependencies (the notifier), on top of the static registry. */
export function stepHandlers(deps: ActivityDeps): Record<string, Record<string, StepHandler<never>>> {
  const notifier = deps.notifier ?? createLogNotifier(deps.logger);
  return {
    ...STEP_HANDLERS,
    'class-reminders': classReminderSteps(notifier),
    'pass-expiry-reminders': passExpiryReminderSteps(notifier),
  };
}

/**
 * All activities, wired to their dependencies. Workflows proxy `ReturnType<typeof createActivities>`;
 * nothing here reaches for globals.
 */
export function createActivities(deps: ActivityDeps) {
  const handlers = stepHandlers(deps);
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
      status: 'COMPLETED' | 'FAILED';
      result: JobResult;
      error?: string;
    }): Promise<void> {
      const { result } = input;
      await finishJobRun(deps.db, {
        jobRunId: input.jobRunId,
        status: input.status,
        read: result.read,
        written: result.written,
        skipped: result.skipped,
        result: result as unknown as Record<string, unknown>,
        error: input.error,
      });
      const fields = {
        job: result.job,
        jobRunId: input.jobRunId,
        read: result.read,
        written: result.written,
        skipped: result.skipped,
      };
      if (input.status === 'FAILED') deps.logger.error('job failed', { ...fields, error: input.error });
      else deps.logger.info('job completed', fields);
      await deps.hooks?.onJobFinished?.({
        job: result.job,
        status: input.status,
        result,
        error: input.error,
      });
    },

    async planStep(input: { job: string; step: string; partitions: number }) {
      const handler = handlers[input.job]?.[input.step];
      if (!handler) {
        throw ApplicationFailure.create({
          message: `no step ${input.job}/${input.step}`,
          type: 'UnknownStep',
          nonRetryable: true,
        });
      }
      const range = handler.keyRange ? await handler.keyRange(deps.db) : null;
      return splitKeyRange(range, handler.keyRange ? input.partitions : 1);
    },

    runStep(input: StepInput) {
      return runStep(runnerDeps, input);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
