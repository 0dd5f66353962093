import { applyClosureJob } from '../jobs/apply-closure.ts';
import { type LaunchDeps, launchJob } from './launch-job.ts';

/**
 * Starts (or waits for) the `apply-closure` run of one closure. Its instance is the closure, so launching it
 * again for the same closure reports the completed run instead of extending anything twice.
 */
export async function launchClosure(
  deps: LaunchDeps,
  closureId: number,
  wait: boolean,
): Promise<{ workflowId: string; runId: string; passesExtended?: number }> {
  const outcome = await launchJob(deps, { job: applyClosureJob.name, params: { closureId }, wait });
  if (outcome.outcome === 'started') return { workflowId: outcome.workflowId, runId: outcome.runId };
  return { workflowId: outcome.workflowId, runId: outcome.runId, passesExtended: outcome.result.written };
}
