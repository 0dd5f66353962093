import { and, desc, eq, type SQL, sql } from 'drizzle-orm';
import type { Db, DbOrTx, Tx } from '../client.ts';
import { jobRuns, stepRuns, stepSkips } from '../schema.ts';

/** Run records: one `job_runs` row per Temporal run, one `step_runs` row per step (and partition). */

export interface NewJobRun {
  jobRunId: string;
  workflowId: string;
  job: string;
  asOf: string;
  params: Record<string, unknown>;
  /** Absent from workflows started before runs recorded their settings. */
  settings?: Record<string, unknown>;
  dryRun: boolean;
}

/**
 * Idempotent: a retried start returns the same record. Only one run of a workflow ID is ever open, so an
 * earlier record of the same instance still RUNNING belongs to a run Temporal closed without it (a Reset
 * terminates the run it replaces): it is closed FAILED here, and its progress is this run's to adopt.
 */
export async function insertJobRun(db: Db, run: NewJobRun): Promise<void> {
  await db.transaction(async (tx) => {
    const inserted = await tx
      .insert(jobRuns)
      .values({
        id: run.jobRunId,
        workflowId: run.workflowId,
        job: run.job,
        asOf: new Date(run.asOf),
        params: run.params,
        settings: run.settings ?? {},
        dryRun: run.dryRun,
      })
      .onConflictDoNothing({ target: jobRuns.id })
      .returning({ id: jobRuns.id });
    if (inserted.length === 0) return;
    const replaced = await tx
      .update(jobRuns)
      .set({
        status: 'FAILED',
        // What its steps had done (it closed no record of its own): as for a run Temporal terminated.
        ...stepRecordCounts(sql`job_runs.id`),
        error: sql`coalesce(${jobRuns.error}, ${`replaced by run ${run.jobRunId} (a Reset or a restart)`})`,
        endedAt: sql`now()`,
        modifiedAt: sql`now()`,
      })
      .where(
        and(
          eq(jobRuns.workflowId, run.workflowId),
          eq(jobRuns.status, 'RUNNING'),
          sql`${jobRuns.id} <> ${run.jobRunId}`,
        ),
      )
      .returning({ id: jobRuns.id });
    // A new lease for each step the replaced run was still running: an attempt of it that is still going
    // (a Reset terminates the workflow, not its activities) finds the lease changed at its next chunk and
    // stops, so no chunk of it commits after this run adopts the step's checkpoint. (The update waits for
    // a chunk it is committing, which holds the record's lock.)
    for (const { id } of replaced) {
      await tx
        .update(stepRuns)
        .set({
          status: 'FAILED',
          error: `replaced by run ${run.jobRunId}`,
          lease: sql`nextval('step_run_lease')`,
          endedAt: sql`now()`,
          modifiedAt: sql`now()`,
        })
        .where(and(eq(stepRuns.jobRunId, id), eq(stepRuns.status, 'RUNNING')));
    }
  });
}

export interface JobRunOutcome {
  jobRunId: string;
  status: 'COMPLETED' | 'FAILED' | 'STOPPED';
  read: number;
  written: number;
  skipped: number;
  result: Record<string, unknown>;
  error?: string;
}

/**
 * Closes a run's record. A run that completed counts what its workflow summed; one that failed or was stopped
 * counts what its step records say (`stepRecordTotals`): the workflow's sum has only the steps that
 * completed, and a failed step's committed chunks are part of what the run did. Returns the recorded counts.
 */
export async function finishJobRun(
  db: DbOrTx,
  outcome: JobRunOutcome,
): Promise<{ read: number; written: number; skipped: number }> {
  const counts =
    outcome.status === 'COMPLETED'
      ? { readCount: outcome.read, writeCount: outcome.written, skipCount: outcome.skipped }
      : stepRecordCounts(outcome.jobRunId);
  const [recorded] = await db
    .update(jobRuns)
    .set({
      status: outcome.status,
      ...counts,
      result: outcome.result,
      error: outcome.error ?? null,
      // When this run ended, not when an earlier run that used the same record (before a Reset) did.
      endedAt: sql`now()`,
      modifiedAt: sql`now()`,
    })
    .where(eq(jobRuns.id, outcome.jobRunId))
    .returning({ read: jobRuns.readCount, written: jobRuns.writeCount, skipped: jobRuns.skipCount });
  return recorded ?? { read: outcome.read, written: outcome.written, skipped: outcome.skipped };
}

/**
 * A run's counts as its step records (every partition, counts a restart adopted included) add them up, as
 * `job_runs` column values: the run given by its ID, or by a column of the row being updated.
 */
function stepRecordCounts(jobRunId: string | SQL) {
  const total = (column: string) =>
    sql<number>`(SELECT coalesce(sum(s.${sql.raw(column)}), 0)::int FROM step_runs s WHERE s.job_run_id = ${jobRunId})`;
  return { readCount: total('read_count'), writeCount: total('write_count'), skipCount: total('skip_count') };
}

/** Marks a run FAILED whose workflow Temporal closed without the workflow doing it (terminated, timed out). */
export async function markRunClosedByTemporal(
  db: DbOrTx,
  jobRunId: string,
  temporalStatus: string,
): Promise<boolean> {
  const rows = await db
    .update(jobRuns)
    .set({
      status: 'FAILED',
      ...stepRecordCounts(jobRunId),
      error: `the workflow was ${temporalStatus.toLowerCase().replace('_', ' ')} in Temporal before it finished`,
      endedAt: sql`now()`,
      modifiedAt: sql`now()`,
    })
    .where(and(eq(jobRuns.id, jobRunId), eq(jobRuns.status, 'RUNNING')))
    .returning({ id: jobRuns.id });
  if (rows.length > 0) {
    await db
      .update(stepRuns)
      .set({
        status: 'FAILED',
        error: `workflow ${temporalStatus.toLowerCase()}`,
        endedAt: sql`now()`,
        modifiedAt: sql`now()`,
      })
      .where(and(eq(stepRuns.jobRunId, jobRunId), eq(stepRuns.status, 'RUNNING')));
  }
  return rows.length > 0;
}

export async function findRunningJobRuns(db: DbOrTx, limit = 500) {
  return db
    .select({ id: jobRuns.id, workflowId: jobRuns.workflowId })
    .from(jobRuns)
    .where(eq(jobRuns.status, 'RUNNING'))
    .orderBy(jobRuns.startedAt)
    .limit(limit);
}

/**
 * The newest non-dry run of a job instance, whatever its status: what `ptpass runs restart` restarts
 * and what a relaunch continues.
 */
export async function findLatestRun(db: DbOrTx, workflowId: string) {
  const [row] = await db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.workflowId, workflowId), eq(jobRuns.dryRun, false)))
    .orderBy(desc(jobRuns.startedAt))
    .limit(1);
  return row;
}

/**
 * The newest non-dry run of a job instance, when it COMPLETED: what a re-launch without --rerun reports.
 * When the newest run failed (a failed --rerun included), there is nothing to report: launch again.
 */
export async function findCompletedRun(db: DbOrTx, workflowId: string) {
  const [row] = await db
    .select()
    .from(jobRuns)
    .where(and(eq(jobRuns.workflowId, workflowId), eq(jobRuns.dryRun, false)))
    .orderBy(desc(jobRuns.startedAt))
    .limit(1);
  return row?.status === 'COMPLETED' ? row : undefined;
}

export async function listJobRuns(db: DbOrTx, options: { job?: string; limit: number }) {
  return db
    .select()
    .from(jobRuns)
    .where(options.job ? eq(jobRuns.job, options.job) : undefined)
    .orderBy(desc(jobRuns.startedAt))
    .limit(options.limit);
}

export async function getJobRun(db: DbOrTx, jobRunId: string) {
  const [run] = await db.select().from(jobRuns).where(eq(jobRuns.id, jobRunId));
  if (!run) return undefined;
  const steps = await db
    .select()
    .from(stepRuns)
    .where(eq(stepRuns.jobRunId, jobRunId))
    .orderBy(stepRuns.startedAt, stepRuns.partition);
  // Numeric keys (booking and pass IDs) in number order, not text order (3 before 13); the member, booking
  // or pass each item concerns, for the run page's links: a deduct-sessions key is a booking, a reminder's
  // key is its notification.
  const rows = await db.execute<{
    step: string;
    partition: number;
    key: string;
    reason: string;
    user_id: string | null;
    booking_id: string | null;
    pass_id: string | null;
  }>(sql`
    SELECT r.step, r.partition, s.item_key AS key, s.reason,
           coalesce(b.user_id, n.user_id)::text AS user_id,
           coalesce(b.id::text, n.subject->>'bookingId') AS booking_id,
           coalesce(b.pass_id::text, n.subject->>'passId') AS pass_id
    FROM step_skips s
    JOIN step_runs r ON r.id = s.step_run_id
    LEFT JOIN bookings b ON ${run.job} = 'deduct-sessions'
      AND b.id = CASE WHEN s.item_key ~ '^[0-9]{1,18}$' THEN s.item_key::bigint END
    LEFT JOIN notifications n
      ON n.id = CASE WHEN s.item_key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN s.item_key::uuid END
    WHERE r.job_run_id = ${jobRunId}::uuid
    ORDER BY r.step, (s.item_key ~ '^[0-9]{1,18}$') DESC,
             CASE WHEN s.item_key ~ '^[0-9]{1,18}$' THEN s.item_key::numeric END, s.item_key
    LIMIT 1000`);
  const num = (v: string | null) => (v === null || !/^\d+$/.test(v) ? null : Number(v));
  const skips = rows.map((r) => ({
    step: r.step,
    partition: Number(r.partition),
    key: r.key,
    reason: r.reason,
    userId: num(r.user_id),
    bookingId: num(r.booking_id),
    passId: num(r.pass_id),
  }));
  return { run, steps, skips };
}

export type StepRunRow = typeof stepRuns.$inferSelect;

export interface StepClaim {
  jobRunId: string;
  step: string;
  partition: number;
  /** The partition's key range (after, upTo]. */
  after: string | null;
  upTo: string | null;
}

/**
 * The earlier runs of this run's job instance whose progress it continues: the same workflow ID, not dry,
 * started before it and after the instance's last COMPLETED run (a `--rerun` of a completed instance starts
 * fresh; a restart of a failed or stopped one — however it was restarted — continues).
 */
function restartLineage(jobRunId: string) {
  return sql`
    SELECT p.id, p.started_at FROM job_runs p, job_runs me
    WHERE me.id = ${jobRunId}::uuid AND NOT me.dry_run
      AND p.workflow_id = me.workflow_id AND p.id <> me.id AND NOT p.dry_run
      AND p.started_at < me.started_at
      AND p.started_at > coalesce((
        SELECT max(c.started_at) FROM job_runs c
        WHERE c.workflow_id = me.workflow_id AND c.id <> me.id AND NOT c.dry_run AND c.status = 'COMPLETED'
      ), '-infinity'::timestamptz)`;
}

/**
 * The partition ranges a step of this run used, or else those the run it continues used: a restart keeps
 * the failed run's partitions so each resumes from its own checkpoint. Empty when there are none.
 */
export async function findStepRanges(
  db: DbOrTx,
  jobRunId: string,
  step: string,
): Promise<Array<{ partition: number; after: string | null; upTo: string | null }>> {
  const rows = await db.execute<{ partition: number; after: string | null; up_to: string | null }>(sql`
    WITH candidates AS (
      SELECT ${jobRunId}::uuid AS id, 'infinity'::timestamptz AS started_at
      UNION ALL ${restartLineage(jobRunId)}
    ), source AS (
      SELECT c.id FROM candidates c
      WHERE EXISTS (SELECT 1 FROM step_runs sr WHERE sr.job_run_id = c.id AND sr.step = ${step})
      ORDER BY c.started_at DESC LIMIT 1
    )
    SELECT sr.partition, sr.range_after AS after, sr.range_up_to AS up_to
    FROM step_runs sr JOIN source ON source.id = sr.job_run_id
    WHERE sr.step = ${step}
    ORDER BY sr.partition`);
  return rows.map((r) => ({ partition: Number(r.partition), after: r.after, upTo: r.up_to }));
}

/**
 * Records a step that found nothing to do at planning (its handler's `hasWork`): one COMPLETED partition
 * with nothing read, no range and no activity, and attempt 0, which no claim ever has: should an activity
 * claim it all the same (a planning attempt that timed out wrote it after a retry found rows), the claim
 * reopens it instead of returning its empty counts. Idempotent (a repeated local activity finds it there).
 */
export async function recordStepWithNothingToDo(
  db: DbOrTx,
  key: { jobRunId: string; step: string },
): Promise<void> {
  await db
    .insert(stepRuns)
    .values({
      jobRunId: key.jobRunId,
      step: key.step,
      partition: 0,
      status: 'COMPLETED',
      attempt: 0,
      endedAt: sql`now()`,
    })
    .onConflictDoNothing();
}

/**
 * Claims a step for an activity attempt and issues it a new lease: creates the step record, or takes over
 * an existing one whatever attempt number holds it (a Reset starts attempts at 1 again). The newest claim
 * always wins; the row lock waits for a chunk an older claim is still committing, so the returned
 * checkpoint is the latest committed one. A new record continues the progress of the same step and
 * partition in the run this one restarts (its checkpoint, counts and skip records; a step that completed
 * there stays completed). Claiming reopens the run record, which a Reset may reuse after it was closed.
 */
export async function claimStepRun(db: Db, key: StepClaim, attempt: number): Promise<StepRunRow> {
  return db.transaction(async (tx) => {
    await tx
      .update(jobRuns)
      .set({ status: 'RUNNING', error: null, endedAt: null, modifiedAt: sql`now()` })
      .where(and(eq(jobRuns.id, key.jobRunId), sql`${jobRuns.status} <> 'RUNNING'`));

    // A record planning wrote for a step with nothing due (attempt 0) is no claim's work: an activity that
    // claims it (planning decided otherwise after all, e.g. a retried planning attempt that found rows) runs.
    const done = sql`(${stepRuns.status} = 'COMPLETED' AND ${stepRuns.attempt} > 0)`;
    const [taken] = await tx
      .update(stepRuns)
      .set({
        attempt,
        lease: sql`CASE WHEN ${done} THEN ${stepRuns.lease} ELSE nextval('step_run_lease') END`,
        status: sql`CASE WHEN ${done} THEN ${stepRuns.status} ELSE 'RUNNING'::run_status END`,
        error: sql`CASE WHEN ${done} THEN ${stepRuns.error} ELSE NULL END`,
        endedAt: sql`CASE WHEN ${done} THEN ${stepRuns.endedAt} ELSE NULL END`,
        modifiedAt: sql`now()`,
      })
      .where(
        and(
          eq(stepRuns.jobRunId, key.jobRunId),
          eq(stepRuns.step, key.step),
          eq(stepRuns.partition, key.partition),
        ),
      )
      .returning();
    if (taken) return taken;

    const [source] = await tx.execute<{ id: number }>(sql`
      SELECT sr.id FROM step_runs sr JOIN (${restartLineage(key.jobRunId)}) p ON p.id = sr.job_run_id
      WHERE sr.step = ${key.step} AND sr.partition = ${key.partition}
        AND sr.range_after IS NOT DISTINCT FROM ${key.after}
        AND sr.range_up_to IS NOT DISTINCT FROM ${key.upTo}
      ORDER BY p.started_at DESC LIMIT 1`);
    // The record adopted is locked (after a chunk its old attempt is committing) and given a new lease: an
    // attempt of the run it belonged to that still runs — a terminated or cancelled workflow's activity
    // goes on until its next heartbeat is answered — finds the lease changed at its next chunk and stops,
    // so nothing of it commits after this claim copies the checkpoint.
    const from = source
      ? (
          await tx
            .update(stepRuns)
            .set({
              lease: sql`nextval('step_run_lease')`,
              status: sql`CASE WHEN ${stepRuns.status} = 'RUNNING' THEN 'FAILED'::run_status ELSE ${stepRuns.status} END`,
              error: sql`CASE WHEN ${stepRuns.status} = 'RUNNING' THEN ${`replaced by run ${key.jobRunId}`} ELSE ${stepRuns.error} END`,
              modifiedAt: sql`now()`,
            })
            .where(eq(stepRuns.id, Number(source.id)))
            .returning()
        )[0]
      : undefined;
    const [row] = await tx
      .insert(stepRuns)
      .values({
        jobRunId: key.jobRunId,
        step: key.step,
        partition: key.partition,
        rangeAfter: key.after,
        rangeUpTo: key.upTo,
        attempt,
        ...(from && {
          status: from.status === 'COMPLETED' ? 'COMPLETED' : 'RUNNING',
          checkpoint: from.checkpoint,
          readCount: from.readCount,
          writeCount: from.writeCount,
          skipCount: from.skipCount,
          chunks: from.chunks,
          endedAt: from.status === 'COMPLETED' ? from.endedAt : null,
        }),
      })
      // Two attempts claiming at once: the later one takes over on its next claim (it retries).
      .onConflictDoNothing()
      .returning();
    if (!row) throw new Error(`step ${key.step}/${key.partition} was claimed concurrently; retry`);
    if (from && from.skipCount > 0) {
      await tx.execute(sql`
        INSERT INTO step_skips (step_run_id, item_key, reason, created_at)
        SELECT ${row.id}, item_key, reason, created_at FROM step_skips WHERE step_run_id = ${from.id}
        ON CONFLICT DO NOTHING`);
    }
    return row;
  });
}

/** Locks the step record for the chunk's transaction. */
export async function lockStepRun(tx: Tx, stepRunId: number): Promise<StepRunRow> {
  const [row] = await tx.select().from(stepRuns).where(eq(stepRuns.id, stepRunId)).for('update');
  if (!row) throw new Error(`step run ${stepRunId} disappeared`);
  return row;
}

export async function saveCheckpoint(
  tx: Tx,
  stepRunId: number,
  progress: { checkpoint: string | null; read: number; written: number; skipped: number },
): Promise<void> {
  await tx
    .update(stepRuns)
    .set({
      checkpoint: progress.checkpoint,
      readCount: sql`${stepRuns.readCount} + ${progress.read}`,
      writeCount: sql`${stepRuns.writeCount} + ${progress.written}`,
      skipCount: sql`${stepRuns.skipCount} + ${progress.skipped}`,
      chunks: sql`${stepRuns.chunks} + 1`,
      modifiedAt: sql`now()`,
    })
    .where(eq(stepRuns.id, stepRunId));
}

export async function recordSkips(
  tx: Tx,
  stepRunId: number,
  skips: Array<{ key: string; reason: string }>,
): Promise<void> {
  if (skips.length === 0) return;
  await tx
    .insert(stepSkips)
    .values(skips.map((s) => ({ stepRunId, itemKey: s.key, reason: s.reason })))
    .onConflictDoNothing();
}

/**
 * How many of this step run's skipped items no earlier (non-dry) run of the same job and step skipped:
 * what the skip limit counts.
 */
export async function countNewSkips(db: DbOrTx, stepRunId: number): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    SELECT count(*)::int AS n
    FROM step_skips s
    JOIN step_runs sr ON sr.id = s.step_run_id
    JOIN job_runs jr ON jr.id = sr.job_run_id
    WHERE s.step_run_id = ${stepRunId}
      AND NOT EXISTS (
        SELECT 1 FROM step_skips s2
        JOIN step_runs sr2 ON sr2.id = s2.step_run_id
        JOIN job_runs jr2 ON jr2.id = sr2.job_run_id
        WHERE s2.item_key = s.item_key AND sr2.step = sr.step AND jr2.job = jr.job
          AND jr2.id <> jr.id AND jr2.started_at < jr.started_at AND NOT jr2.dry_run
          -- The runs this one restarts are the same work: the skips it carried over from them are its own.
          AND NOT (jr2.workflow_id = jr.workflow_id AND jr2.status <> 'COMPLETED'))`);
  return Number(rows[0]?.n ?? 0);
}

/** Closes a step record, if the given lease still owns it (an older claim changes nothing). */
export async function finishStepRun(
  db: DbOrTx,
  stepRunId: number,
  lease: number,
  status: 'COMPLETED' | 'FAILED' | 'STOPPED',
  error?: string,
): Promise<StepRunRow | undefined> {
  const [row] = await db
    .update(stepRuns)
    .set({ status, error: error ?? null, endedAt: sql`now()`, modifiedAt: sql`now()` })
    .where(and(eq(stepRuns.id, stepRunId), eq(stepRuns.lease, lease)))
    .returning();
  return row;
}

/**
 * A step's totals over its partitions in this run, when every partition is completed; undefined while one
 * is not. Called in the transaction that completes a partition, after `lockStepFinish`: of two partitions
 * completing at once, the second sees the first's record completed, so the step's `finish` runs after the
 * last partition with the whole step's counts.
 */
export async function stepTotalsWhenCompleted(
  tx: Tx,
  key: { jobRunId: string; step: string; partitions: number },
): Promise<{ read: number; written: number; skipped: number; chunks: number } | undefined> {
  const [row] = await tx.execute<{
    done: number;
    total: number;
    read: number;
    written: number;
    skipped: number;
    chunks: number;
  }>(sql`
    SELECT count(*) FILTER (WHERE status = 'COMPLETED')::int AS done, count(*)::int AS total,
           coalesce(sum(read_count), 0)::int AS read, coalesce(sum(write_count), 0)::int AS written,
           coalesce(sum(skip_count), 0)::int AS skipped, coalesce(sum(chunks), 0)::int AS chunks
    FROM step_runs WHERE job_run_id = ${key.jobRunId} AND step = ${key.step}`);
  if (!row || row.done !== row.total || row.done < key.partitions) return undefined;
  return { read: row.read, written: row.written, skipped: row.skipped, chunks: row.chunks };
}

/** Serialises the completion of one step's partitions (transaction-scoped; see `stepTotalsWhenCompleted`). */
export async function lockStepFinish(tx: Tx, key: { jobRunId: string; step: string }): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${key.jobRunId}/${key.step}`}, 0))`);
}
