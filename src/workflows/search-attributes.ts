import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { upsertSearchAttributes } from '@temporalio/workflow';

/**
 * The search attributes every ptpass run sets, so the Web UI (and `temporal workflow list --query`) can
 * find the runs that did something among the thousands of scheduled ones:
 *   PtpassJob = 'deduct-sessions'     PtpassWritten > 0     PtpassStatus = 'FAILED'
 * They must exist in the namespace before a worker runs: `npm start` and the tests register them on the
 * dev server, docker-compose with `temporal operator search-attribute create` (README "Finding runs").
 */

export const PTPASS_JOB = defineSearchAttributeKey('PtpassJob', SearchAttributeType.KEYWORD);
/** Rows the run changed; 0 while it runs and for a dry run (its writes are rolled back). */
export const PTPASS_WRITTEN = defineSearchAttributeKey('PtpassWritten', SearchAttributeType.INT);
/** WAITING (a bulk pass before its issue time), RUNNING, COMPLETED or FAILED. */
export const PTPASS_STATUS = defineSearchAttributeKey('PtpassStatus', SearchAttributeType.KEYWORD);

export const PTPASS_SEARCH_ATTRIBUTES = [PTPASS_JOB, PTPASS_WRITTEN, PTPASS_STATUS] as const;

/** The `temporal operator search-attribute create` type names, for compose and the tests' namespaces. */
export const SEARCH_ATTRIBUTE_CLI_TYPES: Record<string, string> = Object.fromEntries(
  PTPASS_SEARCH_ATTRIBUTES.map((key) => [key.name, key.type === 'INT' ? 'Int' : 'Keyword']),
);

export type RunStatus = 'WAITING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'STOPPED';

/** Called from a workflow: what the run is and where it stands. */
export function markRun(job: string, status: RunStatus, written = 0): void {
  upsertSearchAttributes([
    { key: PTPASS_JOB, value: job },
    { key: PTPASS_STATUS, value: status },
    { key: PTPASS_WRITTEN, value: written },
  ]);
}
