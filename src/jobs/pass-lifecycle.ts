import { z } from 'zod';
import { defineJob, step } from './definition.ts';

/**
 * `pass-lifecycle` as of T:
 *  1. activate — READY passes whose start is at or before T become PROGRESSED;
 *  2. expire — PROGRESSED passes whose end is at or before T, or with no sessions left, become EXPIRED.
 * The rules themselves are SQL in src/db/queries/passes.ts.
 */
export const passLifecycleJob = defineJob({
  name: 'pass-lifecycle',
  workflowType: 'passLifecycle',
  description: 'Activate passes on their start date; expire passes that ended or ran out of sessions.',
  params: z.object({}).strict(),
  steps: [step('activate'), step('expire')],
});
