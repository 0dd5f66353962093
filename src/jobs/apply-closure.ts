import { z } from 'zod';
import { defineJob, step } from './definition.ts';

/**
 * `apply-closure` for one studio closure: extend every pass active during it by the closed business days,
 * once per (closure, pass). Started by `ptpass closures add` (and the admin web); safe to re-run.
 * The rule is SQL in src/db/queries/closures.ts.
 */
export const applyClosureJob = defineJob({
  name: 'apply-closure',
  workflowType: 'applyClosure',
  description: 'Extend every pass active during a studio closure by the closed business days, once.',
  params: z.object({ closureId: z.number().int().positive() }).strict(),
  // One instance per closure, whatever minute it is launched in.
  instanceKey: (params) => `closure-${params.closureId}`,
  steps: [step('extend')],
});
