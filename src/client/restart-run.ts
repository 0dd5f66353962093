import { type Client, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { arrayFromPayloads } from '@temporalio/common';
import type { Db } from '../db/client.ts';
import { findLatestRun, getJobRun } from '../db/queries/runs.ts';
import { findJob, type JobInput, type JobResult, STOP_SIGNAL } from '../jobs/index.ts';
import { LaunchError } from './launch-job.ts';

/**
 * Restarting and stopping a run from the CLI. A restart starts the same job instance again (same
 * workflow ID, same input); the new run continues where the failed or stopped one stopped (the step
 * runner adopts its step records). A stop asks the running workflow to stop after the current chunk.
 */

export interface RunControlDeps {
  /** A client, or how to get one: Temporal is only asked once the run record allows the restart or stop. */
  client: Client | (() => Promise<Client>);
  db: Db;
  taskQueue: string;
}

/** The run ID names no run: a wrong input (the CLI exits 2), not a run in the wrong state. */
export class UnknownRunError extends LaunchError {
  override name = 'UnknownRunError';
}

const clientOf = (deps: Pick<RunControlDeps, 'client'>) =>
  typeof deps.client === 'function' ? deps.client() : Promise.resolve(deps.client);

export type RestartOutcome =
  | { outcome: 'started'; workflowId: string; runId: string; restartedRunId: string }
  | {
      outcome: 'completed' | 'failed' | 'stopped';
      workflowId: string;
      runId: string;
      restartedRunId: string;
      result?: JobResult;
      error?: string;
    };

export async function restartRun(
  deps: RunControlDeps,
  runId: string,
  options: {
    wait?: boolean;
    /** Called once the new run has started (before waiting for it). */
    onStarted?: () => void;
  } = {},
): Promise<RestartOutcome> {
  const found = await getJobRun(deps.db, runId);
  if (!found) throw new UnknownRunError(`no run ${runId}`);
  const { run } = found;
  if (run.dryRun) throw new LaunchError(`run ${runId} is a dry run; launch the dry run again instead`);
  const job = findJob(run.job);
  if (!job) throw new LaunchError(`run ${runId} is of job '${run.job}', which this version does not know`);
  const latest = await findLatestRun(deps.db, run.workflowId);
  if (latest && latest.id !== run.id) {
    throw new LaunchError(
      `run ${runId} is not the newest run of its instance; restart the newest one (${latest.id})`,
    );
  }
  if (run.status === 'COMPLETED') {
    throw new LaunchError(
      `run ${runId} completed; to run the instance again use \`ptpass job run ${run.job} --as-of ${run.asOf.toISOString()} --rerun\``,
    );
  }
  const client = await clientOf(deps);
  const open = await describeLatest(client, run.workflowId);
  if (open === 'RUNNING') {
    throw new LaunchError(`run ${runId} is still running (workflow ${run.workflowId}); stop it first`);
  }

  const input = (await originalInput(client, run.workflowId, run.id)) ?? {
    asOf: run.asOf.toISOString(),
    dryRun: false,
    params: run.params,
  };
  const handle = await client.workflow.start(job.workflowType, {
    taskQueue: deps.taskQueue,
    workflowId: run.workflowId,
    args: [input],
    // Only a failed, stopped or terminated instance may run again here; a completed one needs --rerun.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    workflowIdConflictPolicy: 'FAIL',
  });
  const started = { workflowId: run.workflowId, runId: handle.firstExecutionRunId, restartedRunId: runId };
  options.onStarted?.();
  if (!options.wait) return { outcome: 'started', ...started };
  try {
    const result = (await handle.result()) as JobResult;
    return { outcome: 'completed', ...started, result };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const failure = await getJobRun(deps.db, handle.firstExecutionRunId);
    return {
      outcome: failure?.run.status === 'STOPPED' ? 'stopped' : 'failed',
      ...started,
      error: failure?.run.error ?? err.message,
    };
  }
}

/**
 * Asks a running run to stop after the chunk each of its steps is committing, and waits until it has:
 * the run is then STOPPED and can be restarted like a failed one — or COMPLETED, when its last chunk was
 * committed before the stop arrived.
 */
export async function stopRun(
  deps: Omit<RunControlDeps, 'taskQueue'>,
  runId: string,
  options: {
    /** Called once the stop has been sent (before waiting for the run to stop). */
    onSignalled?: () => void;
  } = {},
): Promise<{ workflowId: string; status: string; error: string | null }> {
  const found = await getJobRun(deps.db, runId);
  if (!found) throw new UnknownRunError(`no run ${runId}`);
  const { run } = found;
  const client = run.status === 'RUNNING' ? await clientOf(deps) : undefined;
  if (!client || (await describeLatest(client, run.workflowId)) !== 'RUNNING') {
    throw new LaunchError(`run ${runId} is not running (it is ${run.status})`);
  }
  // The newest Temporal run of the instance is the one working (a Reset may reuse an older run's record).
  const handle = client.workflow.getHandle(run.workflowId);
  await handle.signal(STOP_SIGNAL);
  options.onSignalled?.();
  await handle.result().catch((err: unknown) => {
    if (!(err instanceof WorkflowFailedError)) throw err;
  });
  const after = await getJobRun(deps.db, runId);
  return {
    workflowId: run.workflowId,
    status: after?.run.status ?? 'UNKNOWN',
    error: after?.run.error ?? null,
  };
}

async function describeLatest(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The workflow argument the run was started with (its settings included), from Temporal's history. */
async function originalInput(
  client: Client,
  workflowId: string,
  runId: string,
): Promise<JobInput | undefined> {
  try {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
    if (!payloads) return undefined;
    const [input] = arrayFromPayloads(client.options.loadedDataConverter.payloadConverter, payloads);
    return (input ?? {}) as JobInput;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
