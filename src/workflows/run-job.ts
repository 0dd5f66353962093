import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  defineSignal,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.ts';
import {
  InvalidParametersError,
  type JobDefinition,
  type JobResult,
  normaliseAsOf,
  parseJobInput,
  resolveStep,
  STOP_SIGNAL,
  type StepSummary,
} from '../jobs/definition.ts';
import { describeCauses, ERROR_NAMES, NON_RETRYABLE_ERROR_NAMES } from '../jobs/errors.ts';
import { markRun } from './search-attributes.ts';

/**
 * The shared step runner, workflow half: validate the input, open a run record, run each step as one
 * long heartbeating activity (or several in parallel, one per key-range partition), and close the run
 * record with the counts. History stays small whatever the row count: a few events per step.
 */

type Activities = ReturnType<typeof createActivities>;

/** `ptpass runs stop`: the running steps stop after the chunk they are committing; the run ends STOPPED. */
export const stopSignal = defineSignal(STOP_SIGNAL);

const bookkeepingOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
} as const;
/**
 * The run record's writes and the partition plan: a few milliseconds of SQL each, so they run as local
 * activities, in the worker that runs the workflow task, with no round trip through the task queue (each
 * took ~20 ms there, a tenth of a short run: README "Performance"). They are idempotent, as a local
 * activity repeated after a worker crash must be.
 */
const bookkeepingLocal = proxyLocalActivities<Activities>(bookkeepingOptions);
/** Runs begun before the change replay with their bookkeeping as the ordinary activities they were. */
const bookkeepingQueued = proxyActivities<Activities>(bookkeepingOptions);

export async function runJob(job: JobDefinition, rawInput: unknown): Promise<JobResult> {
  let input: ReturnType<typeof parseJobInput>;
  try {
    input = parseJobInput(job, rawInput);
  } catch (err) {
    if (err instanceof InvalidParametersError) {
      throw ApplicationFailure.create({
        message: err.message,
        type: ERROR_NAMES.invalidParameters,
        nonRetryable: true,
      });
    }
    throw err;
  }
  const info = workflowInfo();
  const asOf = normaliseAsOf(
    input.asOf ? new Date(input.asOf) : scheduledTimeOr(info.startTime),
  ).toISOString();

  const stepOptions = {
    startToCloseTimeout: '24 hours',
    // A cancelled step stops at its next chunk and says so before the workflow moves on.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    heartbeatTimeout: `${input.settings.heartbeatTimeoutSeconds ?? 60} seconds`,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: input.settings.maxAttempts ?? 10,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_NAMES,
    },
  } as const;
  // The summary is what the Web UI's History and Pending Activities show for each step activity.
  const stepActivity = (step: string, partition: number, partitions: number) =>
    proxyActivities<Activities>({
      ...stepOptions,
      summary: `${job.name}: ${step}${partitions > 1 ? ` · partition ${partition + 1}/${partitions}` : ''}`,
    }).runStep;

  const bookkeeping = patched('local-bookkeeping') ? bookkeepingLocal : bookkeepingQueued;
  markRun(job.name, 'RUNNING');
  const { jobRunId } = await bookkeeping.startJobRun({
    jobRunId: info.runId,
    workflowId: info.workflowId,
    job: job.name,
    asOf,
    params: input.params as Record<string, unknown>,
    settings: input.settings as Record<string, unknown>,
    dryRun: input.dryRun,
  });

  const summaries: StepSummary[] = [];
  const result = (): JobResult => ({
    jobRunId,
    workflowId: info.workflowId,
    job: job.name,
    asOf,
    dryRun: input.dryRun,
    read: sum(summaries, 'read'),
    written: sum(summaries, 'written'),
    skipped: sum(summaries, 'skipped'),
    steps: summaries,
  });

  // Stop: cancel the steps (each stops after the chunk it is committing), then record the run STOPPED.
  const stepsScope = new CancellationScope();
  let stopRequested = false;
  setHandler(stopSignal, () => {
    stopRequested = true;
    stepsScope.cancel();
  });

  try {
    for (const stepDef of job.steps) {
      // A step added to the job after this run began is not part of it (its history has no place for it).
      if (stepDef.since && !patched(stepDef.since)) continue;
      // A stop that arrived between steps (or while planning, or while steps found nothing to do): no
      // further step starts. (Runs stopped before this check replay as they ran: the next step's planning,
      // then its cancelled scope.)
      if (stopRequested && patched('stop-between-steps')) throw new CancelledFailure('stopped between steps');
      const settings = resolveStep(stepDef, input.settings);
      const common = {
        jobRunId,
        job: job.name,
        step: settings.name,
        asOf,
        params: input.params as Record<string, unknown>,
        dryRun: input.dryRun,
        chunkSize: settings.chunkSize,
        skipLimit: settings.skipLimit,
        pauseMs: settings.pauseMs,
      };
      // Partitions: the run's setting, else the step's estimated rows and the worker's slots decide (planStep),
      // which also finds a step with nothing due (no ranges).
      // A restarted run keeps the partitions of the run it continues (planStep finds them).
      const requested = input.settings.steps?.[settings.name]?.partitions;
      // One partition asked for: the step runs whatever planning would find, but a restart still continues
      // the ranges of the run it continues. (Runs started before planStep chose partitions, or before it
      // planned one asked-for partition, replay as they ran: one range unless asked.)
      const oneAsked = requested === 1;
      const ranges =
        (oneAsked && !patched('one-partition-planned')) ||
        (!oneAsked && !patched('auto-partitions') && settings.partitions <= 1)
          ? [{ partition: 0, after: null, upTo: null }]
          : await bookkeeping.planStep({
              jobRunId,
              job: job.name,
              step: settings.name,
              partitions: requested ?? 0,
              asOf,
              params: input.params as Record<string, unknown>,
              ...(oneAsked ? { always: true } : {}),
            });
      const runPart = (range: (typeof ranges)[number]) => () =>
        stepActivity(
          settings.name,
          range.partition,
          ranges.length,
        )({
          ...common,
          ...range,
          partitions: ranges.length,
        });
      // No ranges: planning found nothing to do and recorded the step (no activity, nothing read).
      const parts = ranges.length ? await stepsScope.run(() => allOrNone(ranges.map(runPart))) : [];
      summaries.push({
        step: settings.name,
        partitions: parts.length,
        read: sum(parts, 'read'),
        written: sum(parts, 'written'),
        skipped: sum(parts, 'skipped'),
        chunks: sum(parts, 'chunks'),
      });
      upsertMemo({ ptpass: memoOf(result()) });
    }
  } catch (err) {
    // A stopped run ends FAILED in Temporal (type JobStopped) so that it can be restarted like a failed one.
    const stopped = stopRequested && isCancellation(err);
    const status = stopped ? 'STOPPED' : 'FAILED';
    const message = stopped
      ? 'stopped by an operator (ptpass runs stop); restart it to continue'
      : describeCauses(err);
    // The run record counts what the steps' records say, the failed step's committed chunks included (runs
    // begun before it did so replay with the steps that completed: their marker holds no counts).
    const recorded = await CancellationScope.nonCancellable(() =>
      bookkeeping.finishJobRun({ jobRunId, status, result: result(), error: message }),
    );
    const counts = { ...result(), ...recorded };
    upsertMemo({ ptpass: { ...memoOf(counts), status, error: message } });
    markRun(job.name, status, input.dryRun ? 0 : counts.written);
    throw ApplicationFailure.create({
      message: `${job.name} ${stopped ? 'stopped' : 'failed'}: ${message}`,
      type: stopped ? ERROR_NAMES.jobStopped : ERROR_NAMES.jobFailed,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  }

  const done = result();
  await bookkeeping.finishJobRun({ jobRunId, status: 'COMPLETED', result: done });
  upsertMemo({ ptpass: { ...memoOf(done), status: 'COMPLETED' } });
  markRun(job.name, 'COMPLETED', done.dryRun ? 0 : done.written);
  return done;
}

/**
 * Runs a step's partitions in parallel. When one fails, the others are cancelled and awaited (each stops
 * after the chunk it is committing), so no partition goes on writing after the run is recorded as failed.
 */
async function allOrNone<T>(tasks: Array<() => Promise<T>>): Promise<T[]> {
  if (tasks.length === 1) return [await tasks[0]!()];
  const scope = new CancellationScope();
  const running = tasks.map((task) => scope.run(task));
  try {
    return await Promise.all(running);
  } catch (err) {
    scope.cancel();
    await Promise.allSettled(running);
    throw err;
  }
}

/** A scheduled run's logical time is the schedule's nominal time, not when the worker picked it up. */
function scheduledTimeOr(fallback: Date): Date {
  const attrs = workflowInfo().searchAttributes as Record<string, unknown[] | undefined> | undefined;
  const scheduled = attrs?.TemporalScheduledStartTime?.[0];
  if (scheduled instanceof Date) return scheduled;
  if (typeof scheduled === 'string') return new Date(scheduled);
  return fallback;
}

function memoOf(r: JobResult) {
  return {
    jobRunId: r.jobRunId,
    asOf: r.asOf,
    dryRun: r.dryRun,
    read: r.read,
    written: r.written,
    skipped: r.skipped,
    steps: r.steps.map((s) => `${s.step}: read ${s.read}, written ${s.written}, skipped ${s.skipped}`),
  };
}

function sum<K extends string>(rows: Array<Record<K, number>>, key: K): number {
  return rows.reduce((total, row) => total + row[key], 0);
}
