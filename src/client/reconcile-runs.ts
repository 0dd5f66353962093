import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Db } from '../db/client.ts';
import { findRunningJobRuns, markRunClosedByTemporal } from '../db/queries/runs.ts';

/**
 * A run record says RUNNING until its workflow closes it. When Temporal closes a workflow without the
 * workflow's own code running (terminated by an operator, timed out, or purged), nothing would update
 * the record; this asks Temporal about every RUNNING record and closes those whose workflow is gone.
 */
export async function reconcileRuns(deps: {
  client: Client;
  db: Db;
}): Promise<{ checked: number; closed: number }> {
  const running = await findRunningJobRuns(deps.db);
  let closed = 0;
  for (const run of running) {
    let status: string;
    try {
      const description = await deps.client.workflow.getHandle(run.workflowId, run.id).describe();
      status = description.status.name;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      status = 'PURGED';
    }
    if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') continue;
    // A Reset to a workflow task after the run record was opened makes a new run that reuses the record.
    if (status !== 'PURGED' && (await newerRunIsOpen(deps.client, run.workflowId))) continue;
    if (await markRunClosedByTemporal(deps.db, run.id, status)) closed++;
  }
  return { checked: running.length, closed };
}

async function newerRunIsOpen(client: Client, workflowId: string): Promise<boolean> {
  try {
    const latest = await client.workflow.getHandle(workflowId).describe();
    return latest.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
