import { ApplicationFailure, Context } from '@temporalio/activity';
import { sql, TransactionRollbackError } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import {
  claimStepRun,
  countNewSkips,
  finishStepRun,
  lockStepFinish,
  lockStepRun,
  recordSkips,
  type StepRunRow,
  saveCheckpoint,
  stepTotalsWhenCompleted,
} from '../db/queries/runs.ts';
import { describeCauses, ERROR_NAMES } from '../jobs/errors.ts';
import type { Logger } from '../logger.ts';

/**
 * The shared step runner, activity half. A step walks its rows in keyset-paged chunks. Each chunk —
 * read, process, write, skip records and the checkpoint — commits in one transaction, so a retried
 * attempt resumes exactly after the last committed chunk and nothing is applied twice.
 */

export interface ChunkContext<P = Record<string, unknown>> {
  asOf: Date;
  params: P;
  /** Exclusive lower key bound: the checkpoint. */
  after: string | null;
  /** Inclusive upper key bound of this partition. */
  upTo: string | null;
  limit: number;
  /** Set in a dry run (the chunk is rolled back): a step with effects outside the database skips them. */
  dryRun?: boolean;
  /** This partition and how many of the step run at once (a step sharing a budget, such as delivery lanes). */
  partition?: number;
  partitions?: number;
}

export interface ChunkResult {
  /** Rows in the page (processed, skipped or found already done). */
  read: number;
  written: number;
  /** Largest key in the page; null when the page was empty. */
  lastKey: string | null;
  /** Items that could not be processed, with the reason; recorded once per key. */
  skipped?: Array<{ key: string; reason: string }>;
}

export interface StepHandler<P = Record<string, unknown>> {
  /** Processes one page inside the given transaction. Must be idempotent. */
  chunk(tx: Tx, ctx: ChunkContext<P>): Promise<ChunkResult>;
  /**
   * Key bounds for partitioned runs; absent when the step cannot be partitioned. Given the run's time and
   * parameters (absent for runs planned before they were passed), a step can bound the range to the rows
   * it will read, so that its partitions get equal shares of them. The first and last partitions are
   * open-ended either way: a row outside the bounds is still read. A range found by reading the rows
   * themselves can say how many there are (`rows`), which then stands for `estimateRows`.
   */
  keyRange?(
    db: Db,
    ctx?: { asOf: Date; params: P },
  ): Promise<{ min: string; max: string; rows?: number } | null>;
  /**
   * How many rows the step will read as of T (the planner's estimate, or a cheap count): what a run's
   * partition count is chosen from. Absent (and no `rows` from `keyRange`): the key range's span stands in.
   */
  estimateRows?(db: Db, ctx: { asOf: Date; params: P }): Promise<number>;
  /**
   * Whether the step has anything to do as of T: a cheap `EXISTS` on the rows it would read (or the run's
   * parameters). When it says no, planning records the step as completed with nothing read, and the run
   * schedules no activity for it: a run that finds nothing due (what the every-few-minutes schedules do
   * most of the day) costs no task-queue round trip for the step, and its history in the Web UI stays
   * short. Rows that become due a moment later are the next run's, as they would be a moment after a
   * chunk read its page. Absent: the step always runs.
   */
  hasWork?(db: Db, ctx: { asOf: Date; params: P }): Promise<boolean>;
  /**
   * The step's chunk statements touch only their page's rows, each found by key (no aggregate over other
   * rows): its chunk transactions are planned for key lookups (`chunkTransactionSettings`).
   */
  pageByKey?: boolean;
  /** The most partitions a run of this step may pick itself (a budget its partitions share). */
  maxPartitions?: number;
  /**
   * Runs once the step is done (for example to mark a parent row done): after the last chunk of its last
   * partition to complete, in the transaction that records that partition completed, with the whole
   * step's totals (every partition's, counts adopted by a restart included). Must be idempotent.
   */
  finish?(tx: Tx, ctx: Omit<ChunkContext<P>, 'after' | 'limit'>, totals: StepTotals): Promise<void>;
}

export interface StepInput {
  jobRunId: string;
  job: string;
  step: string;
  partition: number;
  /** How many partitions the step runs in (for progress reports); 1 when absent. */
  partitions?: number;
  after: string | null;
  upTo: string | null;
  asOf: string;
  params: Record<string, unknown>;
  dryRun: boolean;
  chunkSize: number;
  skipLimit: number;
  pauseMs?: number;
}

export interface StepTotals {
  read: number;
  written: number;
  skipped: number;
  chunks: number;
}

export interface StepRunnerHooks {
  /** Called after each committed chunk (metrics). */
  onChunk?(info: { job: string; step: string; read: number; written: number; skipped: number }): void;
}

export interface StepRunnerDeps {
  db: Db;
  logger: Logger;
  handlers: Record<string, Record<string, StepHandler<never>>>;
  /**
   * Parameter defaults this worker's configuration supplies, by job name (e.g. deduct-sessions' no-show
   * policy from NO_SHOW_POLICY). A run's own parameters win.
   */
  paramDefaults?: Record<string, Record<string, unknown>>;
  /** Aborted when the worker is asked to stop: the step stops after the chunk it is committing. */
  stopSignal?: AbortSignal;
  hooks?: StepRunnerHooks;
}

/** An older claim of a step whose work a newer claim (a newer lease) has taken over. */
export class StaleAttemptError extends Error {
  override name = ERROR_NAMES.staleAttempt;
}

/** What a step reports in its heartbeats: where it is and how fast it goes (`ptpass job run --wait`). */
export interface StepProgress extends StepTotals {
  step: string;
  partition: number;
  partitions: number;
  checkpoint: string | null;
  /** Rows read per second by this attempt so far. */
  rowsPerSecond: number;
}

class DryRunRollback extends Error {
  override name = 'DryRunRollback';
}

export function findHandler(
  deps: StepRunnerDeps,
  job: string,
  step: string,
): StepHandler<Record<string, unknown>> {
  const handler = deps.handlers[job]?.[step];
  if (!handler) {
    throw ApplicationFailure.create({
      message: `no step ${job}/${step} on this worker`,
      type: ERROR_NAMES.unknownStep,
      nonRetryable: true,
    });
  }
  return handler as StepHandler<Record<string, unknown>>;
}

export async function runStep(deps: StepRunnerDeps, input: StepInput): Promise<StepTotals> {
  const handler = findHandler(deps, input.job, input.step);
  const params = { ...deps.paramDefaults?.[input.job], ...input.params };
  const activity = Context.current();
  const attempt = activity.info.attempt;
  const log = deps.logger.child({
    job: input.job,
    jobRunId: input.jobRunId,
    step: input.step,
    partition: input.partition,
    attempt,
  });

  // The claim's lease, not the attempt number, says who owns the step: a Reset restarts attempts at 1.
  const claimed = await claimStepRun(deps.db, input, attempt);
  if (claimed.status === 'COMPLETED') {
    log.info('step already completed; returning its recorded counts', totalsOf(claimed));
    // Completed in an earlier run of the instance: if it is the last of the step's partitions to report
    // in this run, the step's finish has not run yet for this run's partitions.
    if (handler.finish && !input.dryRun)
      await deps.db.transaction((tx) =>
        finishIfLastPartition(tx, handler, input, { asOf: new Date(input.asOf), params }),
      );
    return totalsOf(claimed);
  }
  const lease = claimed.lease;

  const asOf = new Date(input.asOf);
  let checkpoint = claimed.checkpoint ?? input.after;
  let totals = totalsOf(claimed);
  // A step without a reachable skip limit (imports: every bad row is skipped) never counts new skips.
  const skipLimited = input.skipLimit < Number.MAX_SAFE_INTEGER;
  let newSkipTotal = skipLimited && claimed.skipCount > 0 ? await countNewSkips(deps.db, claimed.id) : 0;
  const attemptStart = Date.now();
  let readThisAttempt = 0;
  const progress = (): StepProgress => {
    const seconds = (Date.now() - attemptStart) / 1000;
    return {
      step: input.step,
      partition: input.partition,
      partitions: input.partitions ?? 1,
      checkpoint,
      ...totals,
      rowsPerSecond: seconds > 0 ? Math.round(readThisAttempt / seconds) : 0,
    };
  };
  log.info(checkpoint === input.after ? 'step started' : 'step resumed from checkpoint', {
    checkpoint,
    ...totals,
  });

  try {
    for (;;) {
      if (deps.stopSignal?.aborted) {
        throw ApplicationFailure.create({
          message: `worker shutting down; ${input.step} resumes after key ${checkpoint ?? '(start)'} on the next attempt`,
          type: ERROR_NAMES.workerShutdown,
        });
      }
      // Cancelled, paused (Web UI Pause) or reset: stop here, after the last committed chunk.
      activity.cancellationSignal.throwIfAborted();
      activity.heartbeat(progress());

      const ctx: ChunkContext = {
        asOf,
        params,
        after: checkpoint,
        upTo: input.upTo,
        limit: input.chunkSize,
        dryRun: input.dryRun,
        partition: input.partition,
        partitions: input.partitions ?? 1,
      };
      const chunk = await deps.db.transaction(async (tx) => {
        await chunkTransactionSettings(tx, handler);
        const row = await lockStepRun(tx, claimed.id);
        if (row.lease !== lease)
          throw new StaleAttemptError(`a newer claim (lease ${row.lease}, attempt ${row.attempt}) took over`);
        if (row.checkpoint !== checkpoint && row.checkpoint !== null) {
          throw new StaleAttemptError(`checkpoint moved to ${row.checkpoint} under lease ${lease}`);
        }
        const result = input.dryRun ? await dryRunChunk(tx, handler, ctx) : await handler.chunk(tx, ctx);
        const skipped = result.skipped ?? [];
        await recordSkips(tx, claimed.id, skipped);
        const newSkips = skipLimited && skipped.length ? await countNewSkips(tx, claimed.id) : undefined;
        const next = result.lastKey ?? checkpoint;
        await saveCheckpoint(tx, claimed.id, {
          checkpoint: next,
          read: result.read,
          written: result.written,
          skipped: skipped.length,
        });
        return { ...result, skippedCount: skipped.length, newSkips, next };
      });
      if (chunk.newSkips !== undefined) newSkipTotal = chunk.newSkips;

      checkpoint = chunk.next;
      totals = {
        read: totals.read + chunk.read,
        written: totals.written + chunk.written,
        skipped: totals.skipped + chunk.skippedCount,
        chunks: totals.chunks + 1,
      };
      readThisAttempt += chunk.read;
      activity.heartbeat(progress());
      deps.hooks?.onChunk?.({
        job: input.job,
        step: input.step,
        read: chunk.read,
        written: chunk.written,
        skipped: chunk.skippedCount,
      });
      log.debug('chunk committed', {
        checkpoint,
        read: chunk.read,
        written: chunk.written,
        skipped: chunk.skippedCount,
      });

      // Items an earlier run of this job already skipped (known bad data) do not count towards the limit, so
      // a few bad rows nobody fixed cannot fail every future run and starve the rows after them.
      if (newSkipTotal > input.skipLimit) {
        const message = `${newSkipTotal} items skipped, over the limit of ${input.skipLimit} (items an earlier run already skipped do not count); see the run's skip records`;
        await finishStepRun(deps.db, claimed.id, lease, 'FAILED', message);
        throw ApplicationFailure.create({ message, type: ERROR_NAMES.skipLimitExceeded, nonRetryable: true });
      }
      if (chunk.read < input.chunkSize) break;
      if (input.pauseMs) await activity.sleep(input.pauseMs);
    }
  } catch (err) {
    await closeAfterError(deps, log, { stepRunId: claimed.id, lease, checkpoint }, err);
    throw err;
  }

  // The partition's record is completed and, when it is the step's last partition to complete, the
  // step's finish runs, in one transaction: a retry finds both done or neither.
  const finished =
    handler.finish && !input.dryRun
      ? await deps.db.transaction(async (tx) => {
          const row = await finishStepRun(tx, claimed.id, lease, 'COMPLETED');
          if (row) await finishIfLastPartition(tx, handler, input, { asOf, params });
          return row;
        })
      : await finishStepRun(deps.db, claimed.id, lease, 'COMPLETED');
  if (!finished) throw new StaleAttemptError('a newer attempt took over before this one finished');
  log.info('step completed', { ...totals });
  return totals;
}

/**
 * Says on the step record why the step stopped, unless a newer claim owns it (its lease changed). Paused,
 * reset or handed over by a stopping worker: the record stays RUNNING, the step resumes from its
 * checkpoint on the next attempt. Cancelled
 * (the run was stopped, or another partition failed): STOPPED. Anything else: FAILED with the error's
 * whole cause chain, deepest first; Temporal may still retry it, and the next claim reopens the record.
 */
async function closeAfterError(
  deps: StepRunnerDeps,
  log: Logger,
  at: { stepRunId: number; lease: number; checkpoint: string | null },
  err: unknown,
): Promise<void> {
  if (err instanceof StaleAttemptError) {
    log.info('step taken over by a newer claim; this attempt stops', { reason: err.message });
    return;
  }
  const activity = Context.current();
  const details = activity.cancellationDetails;
  if (activity.cancellationSignal.aborted && (details?.paused || details?.reset)) {
    log.info(details.paused ? 'step paused' : 'step reset', { checkpoint: at.checkpoint });
    return;
  }
  // A worker stopping hands the step over to another attempt: nothing failed.
  const handedOver =
    (err instanceof ApplicationFailure && err.type === ERROR_NAMES.workerShutdown) ||
    (activity.cancellationSignal.aborted && details?.workerShutdown);
  if (handedOver) {
    log.info('step handed over: the worker is stopping', { checkpoint: at.checkpoint });
    return;
  }
  if (activity.cancellationSignal.aborted) {
    await finishStepRun(
      deps.db,
      at.stepRunId,
      at.lease,
      'STOPPED',
      `stopped after key ${at.checkpoint ?? '(start)'}: the run was stopped or cancelled, or another partition failed`,
    );
    return;
  }
  await finishStepRun(deps.db, at.stepRunId, at.lease, 'FAILED', describeCauses(err));
}

/**
 * Runs the step's `finish` with the whole step's totals when every partition of the step in this run is
 * completed (the one completing last runs it; partitions completing at once are serialised). Called in
 * the transaction that completes the partition, or on its own for a partition a restart adopted completed.
 */
async function finishIfLastPartition(
  tx: Tx,
  handler: StepHandler<Record<string, unknown>>,
  input: StepInput,
  ctx: { asOf: Date; params: Record<string, unknown> },
): Promise<void> {
  if (!handler.finish) return;
  // After this partition's own record is written: whichever of two partitions takes the lock second sees
  // the other's committed record.
  await lockStepFinish(tx, input);
  const step = await stepTotalsWhenCompleted(tx, {
    jobRunId: input.jobRunId,
    step: input.step,
    partitions: input.partitions ?? 1,
  });
  if (step) await handler.finish(tx, { ...ctx, upTo: input.upTo }, step);
}

/**
 * The settings of a chunk's transaction (`SET LOCAL`: this transaction only), set in one round trip.
 *
 * **Its commit does not wait for its WAL to reach the disk** (`synchronous_commit = off`): one fsync per chunk
 * was most of what a chunk cost beyond its statement. Nothing is lost that matters:
 * - the chunk's rows and its checkpoint are one transaction, so a database crash can only lose both together
 *   (at most the last few hundred milliseconds of chunks), and the retried step redoes them from the
 *   checkpoint that survived;
 * - the step's last write, `finishStepRun`, commits synchronously, and a synchronous commit flushes the WAL
 *   up to itself, every earlier chunk included: when a step reports COMPLETED to Temporal, all its chunks are
 *   on disk;
 * - what a chunk sent outside the database (a reminder) and lost in such a crash is sent again with the same
 *   idempotency key, as after a crash before the commit.
 *
 * **A step whose chunks touch only their page's rows, each by key** (`pageByKey` on its handler), has them
 * planned for key lookups (`random_page_cost = 1.1`, the usual value for data in memory or on SSD, instead
 * of 4, a disk that seeks). At the default the planner priced a page's 2,000 primary-key lookups above
 * hashing the whole table, so below a few hundred thousand rows every such chunk scanned the whole table
 * (`auto_explain` at `npm run bench -- --scale 0.1`: every `expire` chunk a Seq Scan of 100,000 passes,
 * every `deduct` chunk two of the passes and one of the bookings), and a chunk's cost grew with the
 * table, not the page. Only such steps: a chunk that aggregates (statistics' days, a bulk pass's members)
 * is better planned at the default, and one (`issue-bulk-passes`' complete step, right after its passes
 * were inserted and before their statistics were) ran for minutes at 1.1. `test/chunk-plans.test.ts`
 * checks the plans.
 */
export async function chunkTransactionSettings(tx: Tx, options: { pageByKey?: boolean } = {}): Promise<void> {
  await tx.execute(
    options.pageByKey
      ? sql`SELECT set_config('synchronous_commit', 'off', true), set_config('random_page_cost', '1.1', true)`
      : sql`SELECT set_config('synchronous_commit', 'off', true)`,
  );
}

/** Runs the chunk in a savepoint and rolls it back: this chunk's counts against the current data, nothing written. */
async function dryRunChunk(
  tx: Tx,
  handler: StepHandler<Record<string, unknown>>,
  ctx: ChunkContext,
): Promise<ChunkResult> {
  let result: ChunkResult | undefined;
  try {
    await tx.transaction(async (savepoint) => {
      result = await handler.chunk(savepoint, ctx);
      throw new DryRunRollback();
    });
  } catch (err) {
    if (!(err instanceof DryRunRollback) && !(err instanceof TransactionRollbackError)) throw err;
  }
  if (!result) throw new Error('dry run produced no result');
  return result;
}

/**
 * Splits a step's key range into `partitions` contiguous ranges (after, upTo]. Keys are bigint IDs as
 * decimal text, or UUIDs (split as the 128-bit numbers PostgreSQL orders them by).
 */
export function splitKeyRange(
  range: { min: string; max: string } | null,
  partitions: number,
): Array<{ partition: number; after: string | null; upTo: string | null }> {
  if (!range || partitions <= 1) return [{ partition: 0, after: null, upTo: null }];
  const uuid = UUID.test(range.min) && UUID.test(range.max);
  const toNumber = (key: string) => (uuid ? BigInt(`0x${key.replaceAll('-', '')}`) : BigInt(key));
  const toKey = (n: bigint) => (uuid ? formatUuid(n) : n.toString());
  const min = toNumber(range.min);
  const max = toNumber(range.max);
  const span = max - min + 1n;
  const parts = BigInt(partitions);
  const result: Array<{ partition: number; after: string | null; upTo: string | null }> = [];
  let after: bigint | null = null;
  for (let i = 0n; i < parts; i++) {
    const upTo: bigint | null = i === parts - 1n ? null : min - 1n + (span * (i + 1n)) / parts;
    if (upTo !== null && after !== null && upTo <= after) continue;
    result.push({
      partition: Number(i),
      after: after === null ? null : toKey(after),
      upTo: upTo === null ? null : toKey(upTo),
    });
    after = upTo;
  }
  return result;
}

/**
 * The ranges a restart continues (the step records of the run it restarts), with every part of the key
 * space that none of them covers added as a range of its own. A partition that was never claimed — still
 * waiting for a worker slot when another partition failed and the step was cancelled — has no record; left
 * out, its keys would never be read by any restart. The missing pieces are exactly the missing partitions'
 * ranges (split ranges are contiguous), numbered after the partition before them.
 */
export function coverKeySpace(
  ranges: Array<{ partition: number; after: string | null; upTo: string | null }>,
): Array<{ partition: number; after: string | null; upTo: string | null }> {
  const sorted = [...ranges].sort((a, b) => a.partition - b.partition);
  const result: typeof sorted = [];
  let previous: (typeof sorted)[number] | undefined;
  for (const range of sorted) {
    const end = previous ? previous.upTo : null;
    if (range.after !== end && !(previous && previous.upTo === null)) {
      result.push({ partition: previous ? previous.partition + 1 : 0, after: end, upTo: range.after });
    }
    result.push(range);
    previous = range;
  }
  if (previous && previous.upTo !== null) {
    result.push({ partition: previous.partition + 1, after: previous.upTo, upTo: null });
  }
  return result;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function formatUuid(n: bigint): string {
  const hex = n.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function totalsOf(row: StepRunRow): StepTotals {
  return { read: row.readCount, written: row.writeCount, skipped: row.skipCount, chunks: row.chunks };
}
