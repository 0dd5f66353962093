import { and, desc, eq, sql } from 'drizzle-orm';
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

/** Idempotent: a retried start returns the same record. */
export async function insertJobRun(db: DbOrTx, run: NewJobRun): Promise<void> {
  await db
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
    .onConflictDoNothing({ target: jobRuns.id });
}

export interface JobRunOutcome {
  jobRunId: string;
  status: 'COMPLETED' | 'FAILED';
  read: number;
  written: number;
  skipped: number;
  result: Record<string, unknown>;
  error?: string;
}

export async function finishJobRun(db: DbOrTx, outcome: JobRunOutcome): Promise<void> {
  await db
    .update(jobRuns)
    .set({
      status: outcome.status,
      readCount: outcome.read,
      writeCount: outcome.written,
      skipCount: outcome.skipped,
      result: outcome.result,
      error: outcome.error ?? null,
      endedAt: sql`coalesce(${jobRuns.endedAt}, now())`,
      modifiedAt: sql`now()`,
    })
    .where(eq(jobRuns.id, outcome.jobRunId));
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
  const skips = await db
    .select({
      step: stepRuns.step,
      partition: stepRuns.partition,
      key: stepSkips.itemKey,
      reason: stepSkips.reason,
    })
    .from(stepSkips)
    .innerJoin(stepRuns, eq(stepRuns.id, stepSkips.stepRunId))
    .where(eq(stepRuns.jobRunId, jobRunId))
    .orderBy(stepRuns.step, stepSkips.itemKey)
    .limit(1000);
  return { run, steps, skips };
}

export type StepRunRow = typeof stepRuns.$inferSelect;

/**
 * Claims a step for an activity attempt: creates its record, or takes over an existing one from an
 * earlier attempt. A newer attempt always wins; the row lock waits for a chunk an older attempt is
 * still committing, so the returned checkpoint is the latest committed one.
 */
export async function claimStepRun(
  db: Db,
  key: { jobRunId: string; step: string; partition: number },
  attempt: number,
): Promise<StepRunRow> {
  const [row] = await db
    .insert(stepRuns)
    .values({ jobRunId: key.jobRunId, step: key.step, partition: key.partition, attempt })
    .onConflictDoUpdate({
      target: [stepRuns.jobRunId, stepRuns.step, stepRuns.partition],
      set: {
        attempt: sql`greatest(${stepRuns.attempt}, excluded.attempt)`,
        status: sql`CASE WHEN ${stepRuns.status} = 'COMPLETED' THEN ${stepRuns.status} ELSE 'RUNNING'::run_status END`,
        error: sql`CASE WHEN ${stepRuns.status} = 'COMPLETED' THEN ${stepRuns.error} ELSE NULL END`,
        modifiedAt: sql`now()`,
      },
    })
    .returning();
  if (!row) throw new Error('claimStepRun returned no row');
  return row;
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
          AND jr2.id <> jr.id AND jr2.started_at < jr.started_at AND NOT jr2.dry_run)`);
  return Number(rows[0]?.n ?? 0);
}

export async function finishStepRun(
  db: DbOrTx,
  stepRunId: number,
  attempt: number,
  status: 'COMPLETED' | 'FAILED',
  error?: string,
): Promise<StepRunRow | undefined> {
  const [row] = await db
    .update(stepRuns)
    .set({ status, error: error ?? null, endedAt: sql`now()`, modifiedAt: sql`now()` })
    .where(and(eq(stepRuns.id, stepRunId), eq(stepRuns.attempt, attempt)))
    .returning();
  return row;
}

/**
 * Deletes one keyset page of finished job runs that ended before `cutoff` (step runs and skip records go
 * with them by cascade). Keyed by the run ID; a page's rows leave the table, so the next page starts after
 * the page's last key.
 */
export async function pruneJobRunsChunk(
  db: DbOrTx,
  w: { cutoff: Date; after: string | null; limit: number },
): Promise<{ read: number; written: number; lastKey: string | null }> {
  const rows = await db.execute<{ read: number; written: number; last_key: string | null }>(sql`
    WITH page AS (
      SELECT id FROM job_runs
      WHERE status <> 'RUNNING' AND ended_at < ${w.cutoff.toISOString()}::timestamptz
        AND id > ${w.after ?? '00000000-0000-0000-0000-000000000000'}::uuid
      ORDER BY id
      LIMIT ${w.limit}
    ), deleted AS (
      DELETE FROM job_runs j USING page
      WHERE j.id = page.id AND j.status <> 'RUNNING' AND j.ended_at < ${w.cutoff.toISOString()}::timestamptz
      RETURNING j.id
    )
    SELECT (SELECT count(*) FROM page)::int AS read,
           (SELECT count(*) FROM deleted)::int AS written,
           (SELECT max(id::text) FROM page) AS last_key`);
  const row = rows[0];
  return { read: Number(row?.read ?? 0), written: Number(row?.written ?? 0), lastKey: row?.last_key ?? null };
}
