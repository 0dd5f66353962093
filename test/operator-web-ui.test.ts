import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createGrant, startGrantIssue } from '../src/client/grant.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { bulkPasses, passes, stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { ptpass } from './helpers/cli.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedLargeGroup, seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { temporalAddress } from './helpers/temporal.ts';

/**
 * What an operator sees in the Temporal Web UI: a grant is one workflow that waits for its issue time, and
 * every run carries PtpassJob / PtpassWritten / PtpassStatus, so `PtpassWritten > 0` finds the runs that
 * did something. Queried with the real `temporal` CLI, which reads the same visibility store as the Web UI.
 */

const env = useJobTestEnvironment('operator-web-ui');
beforeAll(async () => {
  await env.restartWorker();
});

async function temporalCli(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(inject('temporalCli'), [
    ...args,
    '--address',
    temporalAddress(),
  ]);
  return stdout;
}

/** Workflow IDs the query lists on this file's task queue (visibility is eventually consistent: polled). */
async function listed(query: string, expected: number): Promise<string[]> {
  const full = `TaskQueue = '${env.temporal.taskQueue}' AND (${query})`;
  for (let tries = 0; ; tries++) {
    const out = await temporalCli('workflow', 'list', '--query', full, '-o', 'json');
    const ids = (JSON.parse(out || '[]') as Array<{ execution: { workflowId: string } }>)
      .map((w) => w.execution.workflowId)
      .sort();
    if (ids.length >= expected || tries > 300) return ids;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function cliEnv() {
  return {
    DATABASE_URL: env.database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: env.temporal.taskQueue,
    BUSINESS_TIMEZONE: 'Asia/Seoul',
  };
}

async function passesOf(bulkPassId: number) {
  return env.database.db
    .select({ userId: passes.userId })
    .from(passes)
    .where(eq(passes.bulkPassId, bulkPassId))
    .orderBy(passes.userId);
}

describe('a bulk pass at a chosen time', () => {
  it('is a workflow of its own that waits on a timer, then issues that bulk pass', async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db, 4, 30);
    const { groupId, active } = await seedLargeGroup(db, { count: 5, inactiveEvery: 5 });
    const at = new Date(Math.ceil((Date.now() + 4000) / 1000) * 1000);

    const out = await ptpass(
      ['grant', '--package', String(pkg), '--group', String(groupId), '--at', at.toISOString(), '--json'],
      cliEnv(),
    );
    expect(out.code, out.stderr).toBe(0);
    const granted = out.json<{ outcome: string; bulkPassId: number; run: { workflowId: string } }>();
    expect(granted.outcome).toBe('scheduled');
    expect(granted.run.workflowId).toBe(
      `issue-bulk-passes-${at.toISOString().replace('.000Z', 'Z')}-bulk-${granted.bulkPassId}`,
    );

    // Waiting: the workflow runs, nothing is issued yet (the timer is far longer than these steps).
    const handle = env.temporal.client.workflow.getHandle(granted.run.workflowId);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const [before] = await db.select().from(bulkPasses).where(eq(bulkPasses.id, granted.bulkPassId));
    expect(before?.status).toBe('READY');

    // At its time it issues: one pass per ACTIVE member, as of the chosen time.
    const result = (await handle.result()) as JobResult;
    expect(result.asOf).toBe(at.toISOString());
    expect(result.steps.map((s) => [s.step, s.written])).toEqual([
      ['issue', active],
      ['complete', 1],
    ]);
    expect(await passesOf(granted.bulkPassId)).toHaveLength(active);
    const [after] = await db.select().from(bulkPasses).where(eq(bulkPasses.id, granted.bulkPassId));
    expect(after).toMatchObject({ status: 'COMPLETED', issuedCount: active, skippedCount: 1 });

    // Starting it again (a repeated API call) finds the same workflow and issues nothing more.
    const again = await startGrantIssue(
      { client: env.temporal.client, taskQueue: env.temporal.taskQueue },
      { bulkPassId: granted.bulkPassId, issueAt: at },
    );
    expect(again).toMatchObject({ workflowId: granted.run.workflowId, started: false });
    expect(await passesOf(granted.bulkPassId)).toHaveLength(active);
  });

  it('racing the hourly sweep still leaves exactly one pass per ACTIVE member', async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db, 10, 30);
    const { groupId, active } = await seedLargeGroup(db, { count: 3000, inactiveEvery: 10 });
    const asOf = new Date(Math.floor(Date.now() / 1000) * 1000);
    const created = await createGrant(
      db,
      { packageId: pkg, target: { groupId }, issueAt: asOf },
      asOf,
      'Asia/Seoul',
    );
    if (!created.ok) throw new Error(created.problem);
    const { bulkPassId } = created.grant;

    // Both at once: the grant's own workflow and a sweep over every due bulk pass (small chunks for the
    // sweep, so the two interleave).
    const deps = env.launchDeps();
    const settings = { steps: { issue: { chunkSize: 200 } } };
    const [own, sweep] = await Promise.all([
      startGrantIssue(deps, { bulkPassId, issueAt: asOf }).then((issue) =>
        env.temporal.client.workflow.getHandle(issue.workflowId).result(),
      ),
      launchJob(deps, { job: 'issue-bulk-passes', asOf, wait: true, settings }),
    ]);
    expect((own as JobResult).job).toBe('issue-bulk-passes');
    expect(sweep.outcome).toBe('completed');
    const issued = await passesOf(bulkPassId);
    expect(issued).toHaveLength(active);
    expect(new Set(issued.map((p) => p.userId)).size).toBe(active);
    const [row] = await db.select().from(bulkPasses).where(eq(bulkPasses.id, bulkPassId));
    expect(row).toMatchObject({ status: 'COMPLETED', issuedCount: active, skippedCount: 300 });
  });
});

describe('search attributes', () => {
  it('`PtpassWritten > 0` lists the run that wrote and not the empty one', async () => {
    const db = env.database.db;
    const pkg = await seedPackage(db, 3, 30);
    const member = await seedUser(db, 'Searchable');
    const grant = await ptpass(
      ['grant', '--package', String(pkg), '--users', String(member), '--wait', '--json'],
      cliEnv(),
    );
    expect(grant.code, grant.stderr).toBe(0);
    const granted = grant.json<{ outcome: string; bulkPassId: number; run: { workflowId: string } }>();
    expect(granted.outcome).toBe('issued');
    expect(await passesOf(granted.bulkPassId)).toEqual([{ userId: member }]);
    // A run as of a time when nothing is due: it completes and writes nothing.
    const empty = await launchJob(env.launchDeps(), {
      job: 'deduct-sessions',
      asOf: uniqueAsOf(),
      wait: true,
    });
    expect(empty.outcome === 'completed' && empty.result.written).toBe(0);

    const wrote = await listed(`PtpassWritten > 0 AND WorkflowId = '${granted.run.workflowId}'`, 1);
    expect(await listed(`PtpassWritten > 0 AND WorkflowId = '${empty.workflowId}'`, 0)).toEqual([]);
    expect(wrote).toContain(granted.run.workflowId);
    expect(wrote).not.toContain(empty.workflowId);
    expect(await listed(`PtpassJob = 'deduct-sessions' AND PtpassStatus = 'COMPLETED'`, 1)).toEqual([
      empty.workflowId,
    ]);
    expect(await listed(`PtpassJob = 'deduct-sessions' AND PtpassWritten > 0`, 0)).toEqual([]);
  });
});

describe('a run that finds nothing due', () => {
  it('schedules no activity: each step is planned, found empty and recorded', async () => {
    // Years before any row of this file's database: nothing started, ended or is about to start.
    const quiet = new Date(uniqueAsOf().getTime() - 6 * 365 * 86_400_000);
    for (const job of ['pass-lifecycle', 'deduct-sessions', 'class-reminders'] as const) {
      const run = await launchJob(env.launchDeps(), { job, asOf: quiet, wait: true });
      if (run.outcome !== 'completed') throw new Error(`${job}: ${run.outcome}`);
      const history = await env.temporal.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      expect(
        (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes),
        job,
      ).toEqual([]);
      expect(run.result.steps.length, job).toBeGreaterThan(0);
      for (const step of run.result.steps) {
        expect(step, `${job} ${step.step}`).toMatchObject({ partitions: 0, read: 0, written: 0 });
      }
      // The run record still lists every step, completed with nothing read.
      const records = await env.database.db.select().from(stepRuns).where(eq(stepRuns.jobRunId, run.runId));
      expect(records.map((r) => [r.step, r.partition, r.status, r.readCount]).sort(), job).toEqual(
        run.result.steps.map((s) => [s.step, 0, 'COMPLETED', 0]).sort(),
      );
    }
  });
});
