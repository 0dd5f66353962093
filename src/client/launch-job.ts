import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import type { Db } from '../db/client.ts';
import { findCompletedRun, getJobRun } from '../db/queries/runs.ts';
import {
  findJob,
  JOB_NAMES,
  type JobInput,
  type JobResult,
  jobWorkflowId,
  normaliseAsOf,
  parseJobInput,
  type RunSettings,
} from '../jobs/index.ts';
import { findMissingRow } from './job-references.ts';

/**
 * Launching a job instance. The instance is the job name plus its normalised logical time; Temporal's
 * workflow ID uniqueness makes a second concurrent launch impossible, and the run records let a re-launch
 * of a completed instance report what it did instead of running again.
 */

export interface LaunchRequest {
  job: string;
  /** Logical time; defaults to the start of the current minute (the same instant a schedule would use). */
  asOf?: Date;
  params?: Record<string, unknown>;
  dryRun?: boolean;
  /** Run a completed instance again (safe: every chunk is idempotent). */
  rerun?: boolean;
  wait?: boolean;
  settings?: RunSettings;
  /** Told once the workflow has started (not for an instance reported or refused): progress for `--wait`. */
  onStarted?: (started: { workflowId: string; runId: string }) => void;
}

export type LaunchOutcome =
  | { outcome: 'started'; workflowId: string; runId: string; asOf: string }
  | { outcome: 'completed'; workflowId: string; runId: string; asOf: string; result: JobResult }
  | { outcome: 'already-completed'; workflowId: string; runId: string; asOf: string; result: JobResult };

export class LaunchError extends Error {
  override name = 'LaunchError';
}

export class JobAlreadyRunningError extends LaunchError {
  override name = 'JobAlreadyRunningError';
}

/** The instance already ran with other parameters: launching it again would silently ignore the new ones. */
export class ParamsConflictError extends LaunchError {
  override name = 'ParamsConflictError';
}

/** The parameters name a row that does not exist (an import, a closure, a bulk pass): see job-references.ts. */
export class MissingRowError extends LaunchError {
  override name = 'MissingRowError';
}

/** A run waited for (`--wait`) failed or was stopped: says why, with the run to look at or restart. */
export class JobRunFailedError extends Error {
  override name = 'JobRunFailedError';
}

export interface LaunchDeps {
  client: Client;
  db: Db;
  taskQueue: string;
  now?: () => Date;
}

/** How far ahead of this machine's clock an as-of may be (another machine's clock may run ahead). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export function startOfMinute(instant: Date): Date {
  return new Date(Math.floor(instant.getTime() / 60_000) * 60_000);
}

/** Validates everything first: a bad request starts nothing and writes nothing. */
export function prepareLaunch(request: LaunchRequest, now: Date) {
  const job = findJob(request.job);
  if (!job) throw new LaunchError(`unknown job '${request.job}' (jobs: ${JOB_NAMES.join(', ')})`);
  if (request.asOf && Number.isNaN(request.asOf.getTime()))
    throw new LaunchError('--as-of is not a valid instant');
  const asOf = normaliseAsOf(request.asOf ?? startOfMinute(now));
  // A job run as of the future would act on what has not happened yet (charge classes not yet held,
  // expire passes early) and cannot be undone; a dry run may look ahead.
  if (!request.dryRun && asOf.getTime() > now.getTime() + MAX_CLOCK_SKEW_MS) {
    throw new LaunchError(
      `--as-of ${asOf.toISOString()} is in the future; a job runs as of now or earlier (use --dry-run to preview)`,
    );
  }
  const input: JobInput = {
    asOf: asOf.toISOString(),
    dryRun: request.dryRun ?? false,
    params: request.params ?? {},
    settings: request.settings ?? {},
  };
  let parsed: ReturnType<typeof parseJobInput>;
  try {
    parsed = parseJobInput(job, input);
  } catch (err) {
    throw new LaunchError(`invalid parameters for ${err instanceof Error ? err.message : String(err)}`);
  }
  const key = job.instanceKey?.(parsed.params);
  const instanceId = key ? `${jobWorkflowId(job.name, asOf)}-${key}` : jobWorkflowId(job.name, asOf);
  // A dry run is never the instance itself: it must not block or satisfy the real run.
  const workflowId = request.dryRun ? `${instanceId}-dry-run-${now.getTime()}` : instanceId;
  return { job, asOf, input, workflowId, params: parsed.params as Record<string, unknown> };
}

/** Key-order-independent JSON, so `{a, b}` and `{b, a}` are the same parameters. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function launchJob(deps: LaunchDeps, request: LaunchRequest): Promise<LaunchOutcome> {
  const now = deps.now?.() ?? new Date();
  const { job, asOf, input, workflowId, params } = prepareLaunch(request, now);
  const asOfIso = asOf.toISOString();
  const missing = await findMissingRow(deps.db, job.name, params);
  if (missing) throw new MissingRowError(missing);

  if (!request.rerun && !request.dryRun) {
    const done = await findCompletedRun(deps.db, workflowId);
    // One rule for every job: an instance (job + as-of) has one set of parameters. Asking for a completed
    // instance with other parameters is refused, never answered with the earlier result.
    if (done?.result && canonical(done.params) !== canonical(params)) {
      throw new ParamsConflictError(
        `${job.name} as of ${asOfIso} already ran with params ${JSON.stringify(done.params)} (run ${done.id}); ` +
          `to run params ${JSON.stringify(params)}, give another --as-of or add --rerun`,
      );
    }
    if (done?.result) {
      return {
        outcome: 'already-completed',
        workflowId,
        runId: done.id,
        asOf: asOfIso,
        result: done.result as unknown as JobResult,
      };
    }
  }

  let handle: Awaited<ReturnType<Client['workflow']['start']>>;
  try {
    handle = await deps.client.workflow.start(job.workflowType, {
      taskQueue: deps.taskQueue,
      workflowId,
      args: [input],
      // A failed instance may always be restarted; a completed one only when asked to (--rerun).
      workflowIdReusePolicy: request.rerun ? 'ALLOW_DUPLICATE' : 'ALLOW_DUPLICATE_FAILED_ONLY',
      workflowIdConflictPolicy: 'FAIL',
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const existing = deps.client.workflow.getHandle(workflowId);
    const description = await existing.describe();
    if (description.status.name === 'RUNNING') {
      throw new JobAlreadyRunningError(
        `${job.name} as of ${asOfIso} is already running (workflow ${workflowId}, run ${description.runId}); ` +
          'wait for it to finish or look at it in the Temporal Web UI',
      );
    }
    // Completed in Temporal but its run record is gone (pruned): report Temporal's result.
    const result = (await existing.result()) as JobResult;
    return { outcome: 'already-completed', workflowId, runId: description.runId, asOf: asOfIso, result };
  }

  const runId = handle.firstExecutionRunId;
  request.onStarted?.({ workflowId, runId });
  if (!request.wait) return { outcome: 'started', workflowId, runId, asOf: asOfIso };
  try {
    const result = (await handle.result()) as JobResult;
    return { outcome: 'completed', workflowId, runId, asOf: asOfIso, result };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // The run record says why (the whole cause chain) and whether an operator stopped it.
    const run = (await getJobRun(deps.db, runId))?.run;
    throw new JobRunFailedError(
      `${job.name} as of ${asOfIso} ${run?.status === 'STOPPED' ? 'was stopped' : 'failed'}: ${run?.error ?? err.cause?.message ?? err.message} ` +
        (request.dryRun
          ? `(run ${runId}: \`ptpass runs show ${runId}\`; launch the dry run again)`
          : `(run ${runId}: \`ptpass runs show ${runId}\`, then \`ptpass runs restart ${runId}\`)`),
    );
  }
}
