import { ApplicationFailure } from '@temporalio/activity';
import { applyClosureChunk } from '../db/queries/closures.ts';
import { passKeyRange } from '../db/queries/passes.ts';
import type { StepHandler } from './step-runner.ts';

/** Steps of the `apply-closure` job; the rule is the SQL in src/db/queries/closures.ts. */
export const applyClosureSteps = (timeZone: string): Record<string, StepHandler<{ closureId: number }>> => ({
  extend: {
    async chunk(tx, ctx) {
      const result = await applyClosureChunk(tx, {
        closureId: ctx.params.closureId,
        after: ctx.after,
        upTo: ctx.upTo,
        limit: ctx.limit,
        timeZone,
      });
      if ('missing' in result) {
        throw ApplicationFailure.create({
          message: `closure ${ctx.params.closureId} does not exist`,
          type: 'UnknownClosure',
          nonRetryable: true,
        });
      }
      return result;
    },
    keyRange: (db) => passKeyRange(db),
  },
});
