import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { applySchedules } from '../src/client/schedules.ts';
import { jobRuns, passes } from '../src/db/schema.ts';
import { SCHEDULES } from '../src/jobs/schedules.ts';
import { createLogger } from '../src/logger.ts';
import { addDays, businessDayOf, formatBusinessTime, startOfBusinessDay } from '../src/time.ts';
import { createPtpassWorker } from '../src/worker/create-worker.ts';
import { ptpass } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedPackage, seedPass, seedUser } from './helpers/seed.ts';
import { createTestNamespace, temporalAddress } from './helpers/temporal.ts';
import { waitFor } from './helpers/worker-process.ts';

/**
 * Schedules use the production IDs (the job names), so this file works in a Temporal namespace of its own
 * on the shared dev server.
 */
const run = promisify(execFile);
const namespace = `schedules-${randomBytes(4).toString('hex')}`;
const taskQueue = `schedules-${randomBytes(4).toString('hex')}`;
const zone = 'Asia/Seoul';

let database: TestDatabase;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
let env: NodeJS.ProcessEnv;

async function temporalCli(...args: string[]) {
  const { stdout } = await run(inject('temporalCli'), [
    ...args,
    '--address',
    temporalAddress(),
    '--namespace',
    namespace,
  ]);
  return stdout;
}

beforeAll(async () => {
  database = await createTestDatabase('schedules');
  connection = await Connection.connect({ address: temporalAddress() });
  await createTestNamespace(connection, namespace);
  client = new Client({ connection, namespace });
  nativeConnection = await NativeConnection.connect({ address: temporalAddress() });
  worker = await createPtpassWorker({
    connection: nativeConnection,
    namespace,
    taskQueue,
    deps: { db: database.db, logger: createLogger('warn'), businessTimeZone: zone },
  });
  running = worker.run();
  env = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    BUSINESS_TIMEZONE: zone,
  };
});
afterAll(async () => {
  for await (const s of client.schedule.list()) await client.schedule.getHandle(s.scheduleId).delete();
  worker?.shutdown();
  await running;
  await nativeConnection?.close();
  await connection?.close();
  await database?.drop();
});

describe('schedules', () => {
  it('apply creates every declared schedule once; applying again changes nothing', async () => {
    const first = await ptpass(['schedules', 'apply', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toEqual(SCHEDULES.map((s) => ({ scheduleId: s.job, change: 'created' })));
    expect(SCHEDULES.map((s) => s.job)).toEqual(
      expect.arrayContaining(['pass-lifecycle', 'deduct-sessions', 'statistics', 'prune-run-records']),
    );
    const second = await applySchedules({ client, taskQueue, businessTimeZone: zone });
    expect(second.map((c) => c.change)).toEqual(SCHEDULES.map(() => 'unchanged'));

    // The real temporal CLI reads them.
    const described = JSON.parse(
      await temporalCli('schedule', 'describe', '--schedule-id', 'pass-lifecycle', '-o', 'json'),
    );
    expect(JSON.stringify(described)).toContain('passLifecycle');
    expect(JSON.stringify(described)).toContain(zone);
    // A readable calendar in the Web UI: a structured calendar with its words, no cron string.
    expect(described.schedule.spec.structuredCalendar).toEqual([
      expect.objectContaining({ comment: 'every 5 minutes' }),
    ]);
    expect(described.schedule.spec.cronString ?? []).toEqual([]);
    const listed = await temporalCli('schedule', 'list');
    expect(listed).toContain('pass-lifecycle');
    expect(listed).toContain('prune-run-records');
  });

  it('pause keeps a note, survives apply, and resume lifts it', async () => {
    const paused = await ptpass(
      ['schedules', 'pause', 'pass-lifecycle', '--note', 'studio closed for holidays'],
      env,
    );
    expect(paused.code, paused.stderr).toBe(0);
    await applySchedules({ client, taskQueue, businessTimeZone: zone });
    const list = await ptpass(['schedules', 'list', '--json'], env);
    expect(list.json<Array<{ scheduleId: string; paused: boolean; note: string }>>()).toContainEqual(
      expect.objectContaining({
        scheduleId: 'pass-lifecycle',
        paused: true,
        note: 'studio closed for holidays',
      }),
    );
    const resumed = await ptpass(['schedules', 'resume', 'pass-lifecycle'], env);
    expect(resumed.code).toBe(0);
    // It never ran: nothing was missed.
    expect(resumed.stdout).toBe('pass-lifecycle: resumed\n');
    const description = await client.schedule.getHandle('pass-lifecycle').describe();
    expect(description.state.paused).toBe(false);

    const unknown = await ptpass(['schedules', 'pause', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown schedule 'nope' \(schedules: [a-z-, ]*pass-lifecycle/);
  });

  it('a run triggered with the real temporal CLI runs its job, as of the schedule’s time', async () => {
    await temporalCli('schedule', 'trigger', '--schedule-id', 'pass-lifecycle');
    const record = await waitFor(async () => {
      const rows = await database.db.select().from(jobRuns).where(eq(jobRuns.job, 'pass-lifecycle'));
      return rows.find((r) => r.status === 'COMPLETED');
    }, 'the triggered run to complete');
    // The workflow ID carries the nominal time; the run's logical time is that same instant.
    const suffix = record.workflowId.replace(/^pass-lifecycle-/, '');
    expect(new Date(suffix).toISOString()).toBe(record.asOf.toISOString());

    // Paused after that run and resumed: Temporal does not run the times missed while paused, and resume
    // says so, with the backfill that runs them (from just after the last run, which it names).
    expect((await ptpass(['schedules', 'pause', 'pass-lifecycle'], env)).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // paused over a whole second at least
    const resumed = await ptpass(['schedules', 'resume', 'pass-lifecycle'], env);
    expect(resumed.code).toBe(0);
    const after = new Date(record.asOf.getTime() + 1000).toISOString(); // the as-of is the run's whole second
    expect(resumed.stdout).toMatch(
      new RegExp(
        `^pass-lifecycle: resumed\\n  times it missed while paused \\(after ${formatBusinessTime(record.asOf, zone)} \\(${zone}\\)\\) do not run by themselves;\\n  to run them: ptpass schedules backfill pass-lifecycle --from ${after.replace('.', '\\.')} --to \\S+Z\\n$`,
      ),
    );
  });

  it('a backfill over 3 past days creates 3 job instances with those logical times, and a manual run of one is not run again', async () => {
    const today = businessDayOf(new Date(), zone);
    const days = [addDays(today, -4), addDays(today, -3), addDays(today, -2)];
    // A daily schedule (pass-lifecycle runs every 5 minutes: 288 instances a day).
    const job = 'pass-expiry-reminders';
    const backfill = await ptpass(['schedules', 'backfill', job, '--from', days[0]!, '--to', days[2]!], env);
    expect(backfill.code, backfill.stderr).toBe(0);

    // Daily at 10:00 business time.
    const expected = days.map((d) =>
      new Date(startOfBusinessDay(d, zone).getTime() + 10 * 3_600_000).toISOString(),
    );
    const runs = await waitFor(async () => {
      const rows = await database.db.select().from(jobRuns).where(eq(jobRuns.job, job));
      const done = rows.filter((r) => r.status === 'COMPLETED' && expected.includes(r.asOf.toISOString()));
      return done.length === 3 ? done : undefined;
    }, 'three backfilled runs');
    expect(runs.map((r) => r.asOf.toISOString()).sort()).toEqual(expected);
    expect(runs.map((r) => r.workflowId).sort()).toEqual(
      expected.map((t) => `${job}-${t.replace('.000Z', 'Z')}`),
    );

    const manual = await launchJob(
      { client, db: database.db, taskQueue },
      { job, asOf: new Date(expected[1]!) },
    );
    expect(manual.outcome).toBe('already-completed');
  });

  it('a pass starting in 3 minutes is PROGRESSED by the pass-lifecycle schedule within 5 minutes of its start', async () => {
    const db = database.db;
    const user = await seedUser(db);
    const pkg = await seedPackage(db, 10, 30);
    // "Now" is an hour ago, so the schedule's own runs over the next minutes are a backfill we can drive
    // at once (no sleeping); the schedule is paused so that no real-time run gets there first.
    const handle = client.schedule.getHandle('pass-lifecycle');
    await handle.pause('test: driven by a backfill');
    const now = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    const start = new Date(now.getTime() + 3 * 60_000);
    const passId = await seedPass(db, {
      userId: user,
      packageId: pkg,
      startedAt: start,
      endedAt: new Date(start.getTime() + 30 * 86_400_000),
    });
    try {
      // Every run the schedule's spec makes from "now" to 8 minutes on, as that schedule would start them.
      await handle.backfill({ start: now, end: new Date(now.getTime() + 8 * 60_000), overlap: 'BUFFER_ALL' });
      const runs = await waitFor(async () => {
        const rows = await db.select().from(jobRuns).where(eq(jobRuns.job, 'pass-lifecycle'));
        const window = rows.filter(
          (r) => r.asOf.getTime() >= now.getTime() && r.asOf.getTime() <= now.getTime() + 8 * 60_000,
        );
        // A 5-minute calendar matches once or twice in 8 minutes; wait for the one at or after the start.
        const done = window.filter((r) => r.status === 'COMPLETED');
        return done.some((r) => r.asOf.getTime() >= start.getTime()) && done.length === window.length
          ? done.sort((a, b) => a.asOf.getTime() - b.asOf.getTime())
          : undefined;
      }, 'the backfilled pass-lifecycle runs');
      const activated = (r: (typeof runs)[number]) =>
        (r.result as { steps: Array<{ step: string; written: number }> }).steps.find(
          (s) => s.step === 'activate',
        )!.written;
      // Runs before the start leave it READY; the first at or after the start activates it.
      const first = runs.find((r) => r.asOf.getTime() >= start.getTime())!;
      for (const r of runs) expect(activated(r)).toBe(r === first ? 1 : 0);
      expect(first.asOf.getTime() - start.getTime()).toBeLessThanOrEqual(5 * 60_000);
      expect(first.workflowId).toBe(`pass-lifecycle-${first.asOf.toISOString().replace('.000Z', 'Z')}`);
      const [row] = await db.select({ status: passes.status }).from(passes).where(eq(passes.id, passId));
      expect(row!.status).toBe('PROGRESSED');
    } finally {
      await handle.unpause();
    }
  });
});
