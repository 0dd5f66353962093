import {
  anyDueBooking,
  anyKeptNoShow,
  bookingKeyRange,
  countKeptNoShowsChunk,
  deductSessionsChunk,
  estimateDeductions,
} from '../db/queries/deductions.ts';
import { DEFAULT_NO_SHOW_POLICY, deductSessionsParams, type NoShowPolicy } from '../jobs/deduct-sessions.ts';
import type { StepHandler } from './step-runner.ts';

/** The no-show policy of a run: its `noShow` parameter, else the worker's default (the step runner's paramDefaults). */
function noShowPolicy(params: Record<string, unknown>): NoShowPolicy {
  return deductSessionsParams.parse(params).noShow ?? DEFAULT_NO_SHOW_POLICY;
}

/** Steps of the `deduct-sessions` job; the rules are the SQL in src/db/queries/deductions.ts. */
export const deductSessionsSteps: Record<string, StepHandler> = {
  deduct: {
    chunk: (tx, ctx) => deductSessionsChunk(tx, { ...ctx, noShow: noShowPolicy(ctx.params) }),
    pageByKey: true,
    hasWork: (db, ctx) => anyDueBooking(db, { asOf: ctx.asOf, noShow: noShowPolicy(ctx.params) }),
    keyRange: (db) => bookingKeyRange(db),
    estimateRows: (db, ctx) => estimateDeductions(db, { asOf: ctx.asOf, noShow: noShowPolicy(ctx.params) }),
  },
  'no-shows': {
    chunk: async (tx, ctx) =>
      noShowPolicy(ctx.params) === 'keep'
        ? countKeptNoShowsChunk(tx, ctx)
        : { read: 0, written: 0, lastKey: null },
    keyRange: (db) => bookingKeyRange(db),
    // Under `deduct` there is nothing to count: the step is recorded with nothing read and not run.
    hasWork: async (db, ctx) => noShowPolicy(ctx.params) === 'keep' && anyKeptNoShow(db, ctx.asOf),
  },
};
