import { z } from 'zod';
import { defineJob, step } from './definition.ts';

/**
 * What a no-show (a booking with `attended = false`) costs: `deduct` uses the session like an attended
 * class (what most studios do, the default); `keep` leaves the booking and its pass untouched and counts it.
 */
export const NO_SHOW_POLICIES = ['deduct', 'keep'] as const;
export type NoShowPolicy = (typeof NO_SHOW_POLICIES)[number];
export const DEFAULT_NO_SHOW_POLICY: NoShowPolicy = 'deduct';

export const deductSessionsParams = z
  .object({
    /** Absent: the worker's NO_SHOW_POLICY (see src/config.ts), itself `deduct` by default. */
    noShow: z.enum(NO_SHOW_POLICIES, { message: "must be 'deduct' or 'keep'" }).optional(),
  })
  .strict();

/**
 * `deduct-sessions` as of T:
 *  1. deduct — every booking that is not CANCELLED, ended at or before T and has not used its pass takes
 *     one session from its pass (unlimited passes: none), becomes COMPLETED with `used_pass`; a pass that
 *     reaches 0 expires at T. Bookings whose pass is missing, expired before the class or used up are
 *     skipped with the reason. Under the `keep` no-show policy, no-shows are not touched here;
 *  2. no-shows — under `keep`, reads the no-shows left undeducted as of T: its read count is their number.
 *     Under `deduct` it reads nothing.
 * The rules themselves are SQL in src/db/queries/deductions.ts.
 */
export const deductSessionsJob = defineJob({
  name: 'deduct-sessions',
  workflowType: 'deductSessions',
  description:
    'Take one session from the pass of every booking whose class has ended; expire used-up passes.',
  params: deductSessionsParams,
  // An explicit policy is its own instance: a `keep` run is not answered by the scheduled run's result.
  instanceKey: (params) => (params.noShow ? `no-show-${params.noShow}` : undefined),
  steps: [step('deduct'), step('no-shows')],
});
