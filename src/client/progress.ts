import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { arrayFromPayloads } from '@temporalio/common';
import type { StepProgress } from '../activities/step-runner.ts';

/**
 * What a waiting `ptpass job run --wait` prints: the progress of the running steps, read from the
 * heartbeats they already send (Temporal's pending activities), one line per step and partition when it
 * changes. IDs and counts only, like the heartbeats themselves.
 */
export async function watchProgress(
  client: Client,
  workflowId: string,
  onLine: (line: string) => void,
  signal: AbortSignal,
  intervalMs = 2000,
): Promise<void> {
  const last = new Map<string, string>();
  while (!signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    if (signal.aborted) return;
    let pending: Awaited<ReturnType<typeof describePending>>;
    try {
      pending = await describePending(client, workflowId);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) continue;
      throw err;
    }
    for (const progress of pending) {
      const key = `${progress.step}/${progress.partition}`;
      const line = formatProgress(progress);
      if (last.get(key) === line) continue;
      last.set(key, line);
      onLine(line);
    }
  }
}

async function describePending(client: Client, workflowId: string): Promise<StepProgress[]> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const converter = client.options.loadedDataConverter.payloadConverter;
  const found: StepProgress[] = [];
  for (const activity of description.raw.pendingActivities ?? []) {
    const payloads = activity.heartbeatDetails?.payloads;
    if (!payloads?.length) continue;
    const [details] = arrayFromPayloads(converter, payloads) as unknown[];
    if (isStepProgress(details)) found.push(details);
  }
  return found;
}

function isStepProgress(value: unknown): value is StepProgress {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as StepProgress).step === 'string' &&
    typeof (value as StepProgress).read === 'number'
  );
}

export function formatProgress(p: StepProgress): string {
  const where = p.partitions > 1 ? `${p.step} · partition ${p.partition + 1}/${p.partitions}` : p.step;
  return `  ${where}: ${p.read} rows read, ${p.written} written, ${p.rowsPerSecond} rows/s`;
}
