import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { and, eq, sql } from 'drizzle-orm';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { runCli } from '../src/cli/run-cli.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { watchProgress } from '../src/client/progress.ts';
import { reconcileRuns } from '../src/client/reconcile-runs.ts';
import { restartRun } from '../src/client/restart-run.ts';
import {
  claimStepRun,
  finishStepRun,
  insertJobRun,
  recordStepWithNothingToDo,
} from '../src/db/queries/runs.ts';
import { jobRuns, stepRuns } from '../src/db/schema.ts';
import type { JobInput, JobResult, RunSettings } from '../src/jobs/definition.ts';
import { ptpass } from './helpers/cli.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedManyPasses, seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { temporalAddress } from './helpers/temporal.ts';

/**
 * Restart = resume. A pass-lifecycle run is made to fail part-way through its `expire` step by a
 * PostgreSQL trigger that refuses one pass (5 of 25 chunks committed); the trigger is dropped (the operator
 * fixed the cause) and the run is restarted by each path an operator has. Every path finishes the step
 * from its checkpoint: the rows equal a clean run's, the 60 passes the failed run expired are not written
 * again (their modified_at is unchanged), and the step's counts add up to one pass over the data.
 */

const PASSES = 300;
const CHUNK = 12;
const REFUSED_PASS = 61;
const CLEAN_CHUNKS = PASSES / CHUNK + 1; // 25 full pages and the empty page that ends the step
const TRIGGER_MESSAGE = `test trigger: pass ${REFUSED_PASS} refused`;

const env = useJobTestEnvironment('restart');
let T: Date;

beforeEach(async () => {
  T = uniqueAsOf();
  await env.restartWorker();
  await env.database.db.execute(sql`TRUNCATE passes, job_runs, users, packages RESTART IDENTITY CASCADE`);
  const user = await seedUser(env.database.db);
  const pkg = await seedPackage(env.database.db);
  await seedManyPasses(env.database.db, { count: PASSES, userId: user, packageId: pkg, asOf: T, every: 1 });
  await env.database.db.execute(
    sql.raw(`
    CREATE OR REPLACE FUNCTION refuse_one_pass() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'test trigger: pass % refused', NEW.id; END $$;
    DROP TRIGGER IF EXISTS refuse_one_pass ON passes;
    CREATE TRIGGER refuse_one_pass BEFORE UPDATE ON passes FOR EACH ROW
      WHEN (NEW.id = ${REFUSED_PASS} AND NEW.status = 'EXPIRED') EXECUTE FUNCTION refuse_one_pass();`),
  );
});

const fixTheCause = () => env.database.db.execute(sql`DROP TRIGGER refuse_one_pass ON passes`);

const cliEnv = () => ({
  DATABASE_URL: env.database.url,
  TEMPORAL_ADDRESS: temporalAddress(),
  TEMPORAL_TASK_QUEUE: env.temporal.taskQueue,
});

async function temporalCli(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(inject('temporalCli'), [
    ...args,
    '--address',
    temporalAddress(),
    '--namespace',
    'default',
  ]);
  return stdout;
}

function input(settings: JobInput['settings'] = {}): JobInput {
  return {
    asOf: T.toISOString(),
    settings: { ...settings, steps: { ...settings.steps, expire: { chunkSize: CHUNK } } },
  };
}

const workflowId = () => `pass-lifecycle-${T.toISOString().replace('.000Z', 'Z')}`;

/** Runs the job until it fails (one attempt per step) and returns the failed run's ID. */
async function failedRun(): Promise<string> {
  const handle = await env.temporal.client.workflow.start('passLifecycle', {
    taskQueue: env.temporal.taskQueue,
    workflowId: workflowId(),
    args: [input({ maxAttempts: 1 })],
  });
  await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
  return handle.firstExecutionRunId;
}

/** Starts the job with the default 10 attempts and returns once its expire step is retrying. */
async function retryingRun(minAttempt: number, settings: JobInput['settings'] = {}): Promise<string> {
  const handle = await env.temporal.client.workflow.start('passLifecycle', {
    taskQueue: env.temporal.taskQueue,
    workflowId: workflowId(),
    args: [input(settings)],
  });
  await until(async () => {
    const [step] = await env.database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, handle.firstExecutionRunId), eq(stepRuns.step, 'expire')));
    return step !== undefined && step.attempt >= minAttempt && step.status === 'FAILED';
  });
  return handle.firstExecutionRunId;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}

async function modifiedAtOfExpired(): Promise<Array<{ id: number; modified_at: string }>> {
  return env.database.db.execute<{ id: number; modified_at: string }>(
    sql`SELECT id::int, modified_at::text FROM passes WHERE status = 'EXPIRED' ORDER BY id`,
  );
}

/** What the failed run left: 5 chunks (60 passes) committed, the step and the run FAILED with the cause. */
async function expectFailedPartWay(runId: string) {
  const [run] = await env.database.db.select().from(jobRuns).where(eq(jobRuns.id, runId));
  expect(run?.status).toBe('FAILED');
  expect(run?.error?.startsWith(TRIGGER_MESSAGE)).toBe(true);
  const steps = await env.database.db.select().from(stepRuns).where(eq(stepRuns.jobRunId, runId));
  const expire = steps.find((s) => s.step === 'expire');
  expect(expire).toMatchObject({ status: 'FAILED', checkpoint: '60', chunks: 5, writeCount: 60 });
  expect(expire?.error?.startsWith(TRIGGER_MESSAGE)).toBe(true);
  expect(steps.find((s) => s.step === 'activate')?.status).toBe('COMPLETED');
  const expired = await modifiedAtOfExpired();
  expect(expired.map((r) => r.id)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  return expired;
}

/** The restarted run finished the step from the checkpoint: rows as a clean run leaves them, no chunk twice. */
async function expectResumed(result: JobResult, before: Array<{ id: number; modified_at: string }>) {
  const expire = result.steps.find((s) => s.step === 'expire');
  expect(expire).toMatchObject({ read: PASSES, written: PASSES, chunks: CLEAN_CHUNKS });
  const [record] = await env.database.db
    .select()
    .from(stepRuns)
    .where(and(eq(stepRuns.jobRunId, result.jobRunId), eq(stepRuns.step, 'expire')));
  expect(record).toMatchObject({ status: 'COMPLETED', readCount: PASSES, chunks: CLEAN_CHUNKS, error: null });
  const [rows] = await env.database.db.execute<{ expired: number; at_t: number }>(sql`
    SELECT count(*) FILTER (WHERE status = 'EXPIRED')::int AS expired,
           count(*) FILTER (WHERE expired_at = ${T.toISOString()}::timestamptz)::int AS at_t
    FROM passes`);
  expect(rows).toEqual({ expired: PASSES, at_t: PASSES });
  // The passes the failed run expired were not written again.
  const after = await modifiedAtOfExpired();
  expect(after.slice(0, before.length)).toEqual(before);
  const [run] = await env.database.db.select().from(jobRuns).where(eq(jobRuns.id, result.jobRunId));
  expect(run).toMatchObject({ status: 'COMPLETED', error: null, writeCount: PASSES });
  return record!;
}

/** Every pass EXPIRED, each as of T: what one clean run leaves. */
async function expectEveryPassExpiredOnceAtT() {
  const [rows] = await env.database.db.execute<{ expired: number; at_t: number }>(sql`
    SELECT count(*) FILTER (WHERE status = 'EXPIRED')::int AS expired,
           count(*) FILTER (WHERE expired_at = ${T.toISOString()}::timestamptz)::int AS at_t
    FROM passes`);
  expect(rows).toEqual({ expired: PASSES, at_t: PASSES });
}

async function latestResult(): Promise<JobResult> {
  return (await env.temporal.client.workflow.getHandle(workflowId()).result()) as JobResult;
}

async function resetTo(runId: string, ...how: string[]) {
  await temporalCli(
    'workflow',
    'reset',
    '--workflow-id',
    workflowId(),
    '--run-id',
    runId,
    '--reason',
    'test restart',
    ...how,
  );
}

/** The WorkflowTaskCompleted event that scheduled the expire step (the Web UI's reset point before it). */
async function taskBeforeExpire(runId: string): Promise<string> {
  const history = await env.temporal.client.workflow.getHandle(workflowId(), runId).fetchHistory();
  const converter = env.temporal.client.options.loadedDataConverter.payloadConverter;
  const expire = (history.events ?? []).find(
    (e) =>
      e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep' &&
      e.userMetadata?.summary &&
      converter.fromPayload(e.userMetadata.summary) === 'pass-lifecycle: expire',
  )?.activityTaskScheduledEventAttributes;
  if (!expire?.workflowTaskCompletedEventId) throw new Error('no expire step in the history');
  return String(expire.workflowTaskCompletedEventId);
}

describe('restarting a failed run continues where it stopped', () => {
  it('records the failure truthfully: FAILED with the trigger message in runs show and the memo', async () => {
    const runId = await failedRun();
    await expectFailedPartWay(runId);
    const show = await ptpass(['runs', 'show', runId], cliEnv());
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(': FAILED');
    expect(show.stdout).toContain(`error: ${TRIGGER_MESSAGE}`);
    const description = await env.temporal.client.workflow.getHandle(workflowId(), runId).describe();
    const memo = (await description.memo) as {
      ptpass?: { status?: string; error?: string; read?: number; written?: number };
    };
    expect(memo.ptpass?.status).toBe('FAILED');
    expect(memo.ptpass?.error?.startsWith(TRIGGER_MESSAGE)).toBe(true);
    // What the run did, the failed step's 5 committed chunks included, in the record, the memo, `runs list`
    // and the search attribute the Web UI queries (`PtpassWritten > 0`); not just the steps that completed.
    const [run] = await env.database.db.select().from(jobRuns).where(eq(jobRuns.id, runId));
    const activate = (
      await env.database.db
        .select()
        .from(stepRuns)
        .where(and(eq(stepRuns.jobRunId, runId), eq(stepRuns.step, 'activate')))
    )[0]!;
    expect(run).toMatchObject({ writeCount: activate.writeCount + 60 });
    expect(memo.ptpass).toMatchObject({ written: activate.writeCount + 60 });
    expect(description.searchAttributes.PtpassWritten).toEqual([activate.writeCount + 60]);
  });

  it('Web UI Reset to the first workflow task: a new run that skips done steps and resumes expire', async () => {
    const runId = await failedRun();
    const before = await expectFailedPartWay(runId);
    const [activateBefore] = await env.database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, runId), eq(stepRuns.step, 'activate')));
    await fixTheCause();
    await resetTo(runId, '--type', 'FirstWorkflowTask');
    const result = await latestResult();
    expect(result.jobRunId).not.toBe(runId);
    await expectResumed(result, before);
    // The completed step was adopted, not run again: its record is the failed run's.
    const [activate] = await env.database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, result.jobRunId), eq(stepRuns.step, 'activate')));
    expect(activate).toMatchObject({ status: 'COMPLETED', chunks: activateBefore?.chunks });
    expect(activate?.endedAt).toEqual(activateBefore?.endedAt);
  });

  it('Web UI Reset to the workflow task before the failed step, with the default 10 attempts', async () => {
    // activate runs (one partition asked: no planning, so no check for due rows), so that a workflow task
    // lies between opening the run record and scheduling expire.
    const runId = await retryingRun(3, { steps: { activate: { partitions: 1 } } });
    const before = await expiredBy(60);
    await fixTheCause();
    const resetAt = new Date();
    await resetTo(runId, '--event-id', await taskBeforeExpire(runId));
    const result = await latestResult();
    // The reset run reuses the run record (the reset point is after it was opened) and its step record.
    expect(result.jobRunId).toBe(runId);
    const record = await expectResumed(result, before);
    // The first attempt of the new run did the work: older attempt numbers do not make it stand aside.
    expect(record.attempt).toBe(1);
    const [run] = await env.database.db.select().from(jobRuns).where(eq(jobRuns.id, runId));
    expect(run!.endedAt!.getTime()).toBeGreaterThanOrEqual(resetAt.getTime() - 1000);
  });

  it('temporal activity reset while the step is retrying', async () => {
    const runId = await retryingRun(3);
    const before = await expiredBy(60);
    await fixTheCause();
    const description = await env.temporal.client.workflow.getHandle(workflowId(), runId).describe();
    const pending = description.raw.pendingActivities ?? [];
    expect(pending).toHaveLength(1);
    await temporalCli(
      'activity',
      'reset',
      '--workflow-id',
      workflowId(),
      '--activity-id',
      String(pending[0]!.activityId),
    );
    const result = await latestResult();
    expect(result.jobRunId).toBe(runId);
    const record = await expectResumed(result, before);
    expect(record.attempt).toBe(1);
  });

  it('ptpass job run relaunch of the same as-of', async () => {
    const runId = await failedRun();
    const before = await expectFailedPartWay(runId);
    await fixTheCause();
    const launched = await launchJob(env.launchDeps(), {
      job: 'pass-lifecycle',
      asOf: T,
      wait: true,
      settings: { steps: { expire: { chunkSize: CHUNK } } },
    });
    if (launched.outcome !== 'completed') throw new Error(`unexpected ${launched.outcome}`);
    expect(launched.runId).not.toBe(runId);
    await expectResumed(launched.result, before);
  });

  /** expire in two partitions, one attempt: partition 0 fails at the refused pass, after 60 passes. */
  const partitioned = { maxAttempts: 1, steps: { expire: { chunkSize: CHUNK, partitions: 2 } } };
  async function failedPartitionedRun(): Promise<string> {
    const handle = await env.temporal.client.workflow.start('passLifecycle', {
      taskQueue: env.temporal.taskQueue,
      workflowId: workflowId(),
      args: [{ asOf: T.toISOString(), settings: partitioned }],
    });
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    const failedParts = await env.database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, handle.firstExecutionRunId), eq(stepRuns.step, 'expire')));
    expect(failedParts.map((p) => [p.partition, p.rangeAfter, p.rangeUpTo])).toEqual([
      [0, null, '150'],
      [1, '150', null],
    ]);
    expect(failedParts.find((p) => p.partition === 0)).toMatchObject({ status: 'FAILED', checkpoint: '60' });
    return handle.firstExecutionRunId;
  }

  /**
   * Fixes the cause and runs the instance again with the same partitions; checks that every pass is now
   * expired and that those `before` (the failed run's) were not written again. Returns the expire step.
   */
  async function restartPartitioned(
    before: Array<{ id: number; modified_at: string }>,
    settings: RunSettings = partitioned,
  ) {
    await fixTheCause();
    const launched = await launchJob(env.launchDeps(), {
      job: 'pass-lifecycle',
      asOf: T,
      wait: true,
      settings,
    });
    if (launched.outcome !== 'completed') throw new Error(`unexpected ${launched.outcome}`);
    const after = await modifiedAtOfExpired();
    expect(after).toHaveLength(PASSES);
    const unchanged = new Map(after.map((r) => [r.id, r.modified_at]));
    for (const row of before) expect(unchanged.get(row.id)).toBe(row.modified_at);
    return { runId: launched.runId, expire: launched.result.steps.find((s) => s.step === 'expire') };
  }

  it('a partitioned step resumes each partition from its own checkpoint, on the same key ranges', async () => {
    await failedPartitionedRun();
    const { expire } = await restartPartitioned(await modifiedAtOfExpired());
    // Two partitions of 150 passes: 12 full pages and a last one of 6 each, every chunk once.
    expect(expire).toMatchObject({ partitions: 2, read: PASSES, written: PASSES, chunks: 26 });
  });

  it('a restart that asks for one partition still continues the two of the run it continues', async () => {
    await failedPartitionedRun();
    const { expire } = await restartPartitioned(await modifiedAtOfExpired(), {
      ...partitioned,
      steps: { expire: { chunkSize: CHUNK, partitions: 1 } },
    });
    // The failed run's two ranges, each from its checkpoint: every chunk once, as in the restart above.
    expect(expire).toMatchObject({ partitions: 2, read: PASSES, written: PASSES, chunks: 26 });
  });

  it('a partition that was never claimed (cancelled while it waited for a slot) is run by the restart', async () => {
    const runId = await failedPartitionedRun();
    // As if partition 1 had still been waiting for a worker slot when partition 0 failed: cancelled before
    // any attempt claimed it, it left no record and changed nothing.
    await env.database.db.execute(
      sql`DELETE FROM step_runs WHERE job_run_id = ${runId}::uuid AND step = 'expire' AND partition = 1`,
    );
    await env.database.db.execute(
      sql`UPDATE passes SET status = 'PROGRESSED', expired_at = NULL, modified_at = now() WHERE id > 150`,
    );
    const before = await modifiedAtOfExpired();
    expect(before).toHaveLength(60);

    const restarted = await restartPartitioned(before);
    // The restart ran partition 0 from its checkpoint and partition 1's range, which no record named.
    expect(restarted.expire).toMatchObject({ partitions: 2, read: PASSES, written: PASSES });
    const parts = await env.database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, restarted.runId), eq(stepRuns.step, 'expire')));
    expect(parts.map((p) => [p.partition, p.rangeAfter, p.rangeUpTo, p.status]).sort()).toEqual([
      [0, null, '150', 'COMPLETED'],
      [1, '150', null, 'COMPLETED'],
    ]);
  });

  it('ptpass runs restart --wait', async () => {
    const runId = await failedRun();
    const before = await expectFailedPartWay(runId);
    await fixTheCause();
    const restarted = await ptpass(['runs', 'restart', runId, '--wait', '--json'], cliEnv());
    expect(restarted.stderr).not.toContain('error');
    expect(restarted.code).toBe(0);
    const out = restarted.json<{ outcome: string; runId: string; result: JobResult }>();
    expect(out.outcome).toBe('completed');
    expect(out.runId).not.toBe(runId);
    await expectResumed(out.result, before);
    // A completed instance is not restarted: that is --rerun's job.
    const again = await ptpass(['runs', 'restart', out.runId], cliEnv());
    expect(again.code).toBe(3);
    expect(again.stdout).toContain('--rerun');
  });
});

/** Waits until the failing step has committed its 60 passes, and returns their modified_at. */
async function expiredBy(count: number) {
  await until(async () => (await modifiedAtOfExpired()).length === count);
  return modifiedAtOfExpired();
}

describe('restarting a failed statistics range', () => {
  it('continues at the failed day: days the failed run wrote are not rewritten', async () => {
    await env.database.db.execute(
      sql.raw(`
      TRUNCATE statistics;
      CREATE OR REPLACE FUNCTION refuse_day() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'test trigger: day % refused', NEW.day; END $$;
      DROP TRIGGER IF EXISTS refuse_day ON statistics;
      CREATE TRIGGER refuse_day BEFORE INSERT OR UPDATE ON statistics FOR EACH ROW
        WHEN (NEW.day = '2024-01-31') EXECUTE FUNCTION refuse_day();`),
    );
    const request = {
      job: 'statistics',
      asOf: T,
      params: { from: '2024-01-01', to: '2024-02-09' },
      settings: { maxAttempts: 1, steps: { compute: { chunkSize: 1 } } },
      wait: true,
    };
    // `--wait` says why the run failed, and which run to restart.
    await expect(launchJob(env.launchDeps(), request)).rejects.toThrow(
      /^statistics as of .* failed: test trigger: day 2024-01-31 refused ← .*ptpass runs restart/,
    );
    const written = () =>
      env.database.db.execute<{ day: string; modified_at: string }>(
        sql`SELECT day::text, max(modified_at)::text AS modified_at FROM statistics GROUP BY day ORDER BY day`,
      );
    const before = await written();
    expect(before.map((r) => r.day)).toHaveLength(30);
    expect(before.at(-1)?.day).toBe('2024-01-30');

    await env.database.db.execute(sql`DROP TRIGGER refuse_day ON statistics`);
    const restarted = await launchJob(env.launchDeps(), request);
    if (restarted.outcome !== 'completed') throw new Error(`unexpected ${restarted.outcome}`);
    const after = await written();
    expect(after).toHaveLength(40);
    expect(after.slice(0, 30)).toEqual(before);
    // One chunk per day over the whole instance: the failed run's 30 and the restart's 10 (and the empty end).
    expect(restarted.result.steps[0]).toMatchObject({ read: 40, chunks: 41 });
  });
});

describe('pausing and stopping a step', () => {
  // The default heartbeat timeout (60 s): a Pause, a stop or a Reset must reach the step within about a
  // second (the worker's heartbeat throttle), long before its 25 chunks of 0.3 s are done.
  const slow = { steps: { expire: { chunkSize: CHUNK, pauseMs: 300 } } };

  async function slowRun(): Promise<string> {
    await fixTheCause();
    const handle = await env.temporal.client.workflow.start('passLifecycle', {
      taskQueue: env.temporal.taskQueue,
      workflowId: workflowId(),
      args: [{ asOf: T.toISOString(), settings: slow }],
    });
    await until(async () => ((await expireRecord(handle.firstExecutionRunId))?.chunks ?? 0) >= 2);
    return handle.firstExecutionRunId;
  }

  async function expireRecord(runId: string) {
    const [row] = await env.database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, runId), eq(stepRuns.step, 'expire')));
    return row;
  }

  async function pendingActivity() {
    const description = await env.temporal.client.workflow.getHandle(workflowId()).describe();
    return description.raw.pendingActivities?.[0];
  }

  it('job run --wait reports progress from heartbeats, and the Web UI names each step activity', async () => {
    const runId = await slowRun();
    const lines: string[] = [];
    const watching = new AbortController();
    const watched = watchProgress(
      env.temporal.client,
      workflowId(),
      (l) => lines.push(l),
      watching.signal,
      100,
    );
    await latestResult();
    watching.abort();
    await watched;
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^ {2}expire: \d+ rows read, \d+ written, \d+ rows\/s$/);

    const history = await env.temporal.client.workflow.getHandle(workflowId(), runId).fetchHistory();
    const converter = env.temporal.client.options.loadedDataConverter.payloadConverter;
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep')
      .map((e) => converter.fromPayload(e.userMetadata!.summary!));
    // Nothing is due to activate: planning recorded that step without scheduling an activity.
    expect(summaries).toEqual(['pass-lifecycle: expire']);
  });

  it('Web UI Reset to the first workflow task while a step runs: the replaced attempt stops, the counts are one pass', async () => {
    const runId = await slowRun();
    await resetTo(runId, '--type', 'FirstWorkflowTask');
    const result = await latestResult();
    expect(result.jobRunId).not.toBe(runId);
    // The new run adopted the checkpoint, and no chunk of the replaced attempt (the Reset terminated its
    // workflow, not the activity) committed after that: every pass read and written once in all.
    const expire = result.steps.find((s) => s.step === 'expire');
    expect(expire).toMatchObject({ read: PASSES, written: PASSES, chunks: CLEAN_CHUNKS });
    expect(await expireRecord(runId)).toMatchObject({ status: 'FAILED' });
    await expectEveryPassExpiredOnceAtT();
  });

  it('Web UI Terminate, then a restart at once: the terminated attempt stops at its next chunk, the counts are one pass', async () => {
    const runId = await slowRun();
    await temporalCli('workflow', 'terminate', '--workflow-id', workflowId(), '--reason', 'test terminate');
    // At once, as an operator would (ptpass runs restart): the terminated run's step is still running, as
    // its activity learns of the termination only from the answer to a heartbeat.
    const deps = { client: env.temporal.client, db: env.database.db, taskQueue: env.temporal.taskQueue };
    await reconcileRuns(deps);
    const restarted = await restartRun(deps, runId, { wait: true });
    if (restarted.outcome !== 'completed') throw new Error(`unexpected ${restarted.outcome}`);
    // The restart adopted the checkpoint and took the step's lease: no chunk of the terminated attempt
    // committed after that, so the new run's counts are every pass once.
    const expire = restarted.result?.steps.find((step) => step.step === 'expire');
    expect(expire).toMatchObject({ read: PASSES, written: PASSES });
    expect(await expireRecord(runId)).toMatchObject({ status: 'FAILED' });
    await expectEveryPassExpiredOnceAtT();
  });

  it('Web UI Pause stops the step after its chunk, no chunk commits while paused, Unpause completes it', async () => {
    const runId = await slowRun();
    const activityId = String((await pendingActivity())?.activityId);
    await temporalCli('activity', 'pause', '--workflow-id', workflowId(), '--activity-id', activityId);
    // PAUSED (not PAUSE_REQUESTED): the running attempt has stopped.
    await until(async () => (await pendingActivity())?.state === 4);
    const paused = await expireRecord(runId);
    expect(paused?.chunks).toBeLessThan(CLEAN_CHUNKS);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await expireRecord(runId)).toMatchObject({
      chunks: paused?.chunks,
      checkpoint: paused?.checkpoint,
    });

    await temporalCli('activity', 'unpause', '--workflow-id', workflowId(), '--activity-id', activityId);
    const result = await latestResult();
    expect(result.steps.find((s) => s.step === 'expire')).toMatchObject({
      read: PASSES,
      written: PASSES,
      chunks: CLEAN_CHUNKS,
    });
    expect(await expireRecord(runId)).toMatchObject({ status: 'COMPLETED', chunks: CLEAN_CHUNKS });
  });

  it('ptpass runs stop records the run STOPPED after a chunk; ptpass runs restart finishes it', async () => {
    const runId = await slowRun();
    const stop = await ptpass(['runs', 'stop', runId, '--json'], cliEnv());
    expect(stop.code).toBe(0);
    expect(stop.json<{ status: string }>().status).toBe('STOPPED');
    const [run] = await env.database.db.select().from(jobRuns).where(eq(jobRuns.id, runId));
    expect(run?.status).toBe('STOPPED');
    const stopped = await expireRecord(runId);
    expect(stopped).toMatchObject({ status: 'STOPPED' });
    expect(stopped?.chunks).toBeLessThan(CLEAN_CHUNKS);
    const [rows] = await env.database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM passes WHERE status = 'EXPIRED'`,
    );
    expect(rows?.n).toBe(Number(stopped?.checkpoint));
    // A run that is not running is refused (exit 3), checked before the progress line is printed.
    const again = await ptpass(['runs', 'stop', runId], cliEnv());
    expect(again.code).toBe(3);
    expect(again.stdout).toBe(`run ${runId} is not running (it is STOPPED)\n`);
    expect(again.stderr).toBe('');

    const restarted = await ptpass(['runs', 'restart', runId, '--wait', '--json'], cliEnv());
    expect(restarted.code).toBe(0);
    const out = restarted.json<{ outcome: string; result: JobResult }>();
    expect(out.outcome).toBe('completed');
    expect(out.result.steps.find((s) => s.step === 'expire')).toMatchObject({
      read: PASSES,
      written: PASSES,
      chunks: CLEAN_CHUNKS,
    });
  });

  it('ptpass runs stop of a run that completes before the stop takes effect says so, with no restart advice', async () => {
    await fixTheCause();
    const db = env.database.db;
    // The run record is closed COMPLETED only when the test lets go of a lock: its steps are done by then.
    await db.execute(
      sql.raw(`
      CREATE OR REPLACE FUNCTION hold_completion() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NEW; END $$;
      CREATE TRIGGER hold_completion BEFORE UPDATE ON job_runs FOR EACH ROW
        WHEN (OLD.status = 'RUNNING' AND NEW.status = 'COMPLETED') EXECUTE FUNCTION hold_completion();`),
    );
    const lock = await env.database.sql.reserve();
    try {
      await lock`SELECT pg_advisory_lock(4242)`;
      const handle = await env.temporal.client.workflow.start('passLifecycle', {
        taskQueue: env.temporal.taskQueue,
        workflowId: workflowId(),
        args: [{ asOf: T.toISOString() }],
      });
      const runId = handle.firstExecutionRunId;
      await until(async () => {
        const [waiting] = await db.execute<{ n: number }>(
          sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted`,
        );
        return (waiting?.n ?? 0) > 0;
      });
      // The progress line is printed once Temporal has the stop: then the completion may go on.
      let stdout = '';
      let stderr = '';
      let sent!: () => void;
      const signalled = new Promise<void>((resolve) => {
        sent = resolve;
      });
      const stopping = runCli(['runs', 'stop', runId], {
        stdout: (text) => {
          stdout += text;
        },
        stderr: (text) => {
          stderr += text;
          sent();
        },
        env: cliEnv(),
      });
      await signalled;
      await lock`SELECT pg_advisory_unlock(4242)`;
      const code = await stopping;
      expect(code, stderr).toBe(0);
      expect(stdout).toBe(`run ${runId}: COMPLETED before the stop took effect\n`);
      expect(stderr).toBe(`stopping run ${runId} after its current chunk...\n`);
      const [run] = await db.select().from(jobRuns).where(eq(jobRuns.id, runId));
      expect(run?.status).toBe('COMPLETED');
    } finally {
      await lock`SELECT pg_advisory_unlock_all()`;
      lock.release();
      await db.execute(sql`DROP TRIGGER IF EXISTS hold_completion ON job_runs`);
    }
  });
});

describe('a step planning found nothing to do', () => {
  it('is reopened by an activity that claims it all the same; a step a claim completed stays completed', async () => {
    const db = env.database.db;
    const jobRunId = randomUUID();
    await insertJobRun(db, {
      jobRunId,
      workflowId: workflowId(),
      job: 'pass-lifecycle',
      asOf: T.toISOString(),
      params: {},
      dryRun: false,
    });
    await recordStepWithNothingToDo(db, { jobRunId, step: 'expire' });
    await recordStepWithNothingToDo(db, { jobRunId, step: 'expire' }); // a repeated planning attempt
    const key = { jobRunId, step: 'expire', partition: 0, after: null, upTo: null };
    // A planning attempt that timed out wrote the record after a retry found rows and scheduled the step.
    const claimed = await claimStepRun(db, key, 1);
    expect(claimed).toMatchObject({ status: 'RUNNING', attempt: 1, readCount: 0 });
    await finishStepRun(db, claimed.id, claimed.lease, 'COMPLETED');
    const again = await claimStepRun(db, key, 2);
    expect(again).toMatchObject({ id: claimed.id, status: 'COMPLETED', lease: claimed.lease });
  });
});
