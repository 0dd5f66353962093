import {
  activatePassesChunk,
  anyDueToActivate,
  anyDueToExpire,
  estimateActivations,
  estimateExpiries,
  expirePassesChunk,
  passKeyRange,
} from '../db/queries/passes.ts';
import type { StepHandler } from './step-runner.ts';

/** Steps of the `pass-lifecycle` job; the rules are the SQL in src/db/queries/passes.ts. */
export const passLifecycleSteps: Record<string, StepHandler> = {
  activate: {
    chunk: (tx, ctx) => activatePassesChunk(tx, ctx),
    pageByKey: true,
    keyRange: (db) => passKeyRange(db),
    estimateRows: (db, ctx) => estimateActivations(db, ctx.asOf),
    hasWork: (db, ctx) => anyDueToActivate(db, ctx.asOf),
  },
  expire: {
    chunk: (tx, ctx) => expirePassesChunk(tx, ctx),
    pageByKey: true,
    keyRange: (db) => passKeyRange(db),
    estimateRows: (db, ctx) => estimateExpiries(db, ctx.asOf),
    hasWork: (db, ctx) => anyDueToExpire(db, ctx.asOf),
  },
};
