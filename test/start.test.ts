import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { afterAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { createDb } from '../src/db/client.ts';
import type { JobResult } from '../src/jobs/definition.ts';
import { readPostmasterPid } from '../src/stack/embedded-postgres.ts';
import { isAlive } from '../src/stack/processes.ts';
import { AdminBrowser } from './helpers/admin.ts';
import { freePort, ptpass } from './helpers/cli.ts';
import { waitFor } from './helpers/worker-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'ptpass-start-'));
// As root the embedded PostgreSQL runs as the `postgres` user, which must be able to enter the directory.
chmodSync(dataDir, 0o755);
let child: ChildProcess | undefined;

afterAll(() => {
  // The stack still running, if any: the first leads a process group (its dev server in it), the second
  // is a plain child; its embedded PostgreSQL leads a group of its own.
  for (const target of [
    -(child?.pid ?? 0),
    child?.pid ?? 0,
    readPostmasterPid(join(dataDir, 'postgres')) ?? 0,
  ]) {
    try {
      if (target) process.kill(target, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

it('npm start brings up dev server, Web UI, embedded database and worker; other commands use them; Ctrl-C stops it', async () => {
  const ports = {
    temporal: await freePort(),
    ui: await freePort(),
    db: await freePort(),
    metrics: await freePort(),
    admin: await freePort(),
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PTPASS_DATA_DIR: dataDir,
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    PTPASS_DB_PORT: String(ports.db),
    METRICS_PORT: String(ports.metrics),
    ADMIN_PORT: String(ports.admin),
    TEMPORAL_TASK_QUEUE: 'ptpass-start-test',
  };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;

  // What `npm start -- --demo` runs, in a process group of its own, as in a terminal.
  child = spawn(process.execPath, ['--import', 'tsx', 'client.ts', 'start', '--demo'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const collect = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

  await waitFor(
    async () =>
      output.includes('"msg":"worker polling"') ||
      (child!.exitCode !== null && Promise.reject(new Error(output))),
    'the worker to poll',
    150_000,
  );
  expect(output).toContain(`Temporal Web UI  http://127.0.0.1:${ports.ui}`);
  expect(output).toContain('Demo studio seeded: 50 members in 2 groups');
  expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);

  // The admin web, with a password generated for this run and printed once.
  const admin = new RegExp(
    `Admin web +http://127\\.0\\.0\\.1:${ports.admin} +user 'admin', password (\\S+) \\(generated for this run`,
  ).exec(output);
  expect(admin, output).not.toBeNull();
  const browser = new AdminBrowser(`http://127.0.0.1:${ports.admin}`);
  expect((await browser.get('/members')).status).toBe(303);
  expect((await browser.login('admin', admin![1]!)).status).toBe(303);
  expect((await browser.get('/schedules')).status).toBe(200);

  // Another process reaches the same embedded database and dev server with no DATABASE_URL. pass-lifecycle
  // also runs on its schedule every 5 minutes, so this run (as of a second that is no schedule tick) may find
  // some passes done already: together the runs activate the demo's 10 READY passes that started and expire
  // its 10 ended and 10 used-up ones, each exactly once.
  const now = Math.floor(Date.now() / 1000) * 1000 - 7000;
  const asOf = new Date(now % 60_000 === 0 ? now - 1000 : now).toISOString();
  const run = await ptpass(['job', 'run', 'pass-lifecycle', '--as-of', asOf, '--wait', '--json'], env);
  expect(run.code, run.stderr).toBe(0);
  expect(run.json<{ outcome: string }>().outcome).toBe('completed');
  const runs = await waitFor(async () => {
    const list = (await ptpass(['runs', 'list', '--job', 'pass-lifecycle', '--json'], env)).json<
      Array<{ status: string; written: number }>
    >();
    return list.every((r) => r.status === 'COMPLETED') ? list : undefined;
  }, 'every pass-lifecycle run to finish');
  expect(runs.reduce((sum, r) => sum + r.written, 0)).toBe(30);

  // npm start applied the schedules, and /metrics shows the run beside the SDK's own metrics.
  const schedules = await ptpass(['schedules', 'list', '--json'], env);
  expect(schedules.json<Array<{ scheduleId: string; exists: boolean }>>()).toContainEqual(
    expect.objectContaining({ scheduleId: 'pass-lifecycle', exists: true }),
  );
  // The demo's bulk pass (due 3 minutes after seeding) waits in its own workflow, as a grant's does, not
  // for the hourly sweep (or has been issued by it already, on a slow start).
  const temporal = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
  try {
    const waiting: string[] = [];
    for await (const w of new Client({ connection: temporal }).workflow.list({
      query: `WorkflowType = 'issueBulkPassAt'`,
    }))
      waiting.push(w.status.name);
    expect(waiting).toHaveLength(1);
    expect(['RUNNING', 'COMPLETED']).toContain(waiting[0]);
  } finally {
    await temporal.close();
  }
  const metrics = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
  expect(metrics).toContain(`ptpass_job_runs_total{job="pass-lifecycle",outcome="COMPLETED"} ${runs.length}`);
  expect(metrics).toContain('ptpass_step_rows_total{job="pass-lifecycle",step="activate",kind="written"} 10');
  expect(metrics).toContain('ptpass_step_rows_total{job="pass-lifecycle",step="expire",kind="written"} 20');
  expect(metrics).toMatch(/temporal_\w+/);

  await realPostgresChecks(`postgres://postgres@127.0.0.1:${ports.db}/ptpass`, `127.0.0.1:${ports.temporal}`);

  // A second npm start on the same data directory is refused at once: its servers are not leftovers.
  const second = await ptpass(['start'], { ...env, ADMIN_PORT: '0' });
  expect(second.code).toBe(1);
  expect(second.stderr.trim()).toBe(
    `ptpass start: another npm start (pid ${child.pid}) runs on ${dataDir}; stop it first, or set PTPASS_DATA_DIR to another directory`,
  );

  // Ctrl-C in a terminal: SIGINT to the whole process group, the Temporal dev server included (the embedded
  // PostgreSQL leads a group of its own and is stopped by npm start, after the worker).
  process.kill(-child.pid!, 'SIGINT');
  expect(await exited).toBe(0);
  expect(output).toContain('worker stopped');
  // Nothing the stack stops on its way out is brought back.
  expect(output).not.toMatch(/is gone; bringing it back|stopped answering/);
  // Everything it started is gone with it: the embedded database port answers no more.
  const after = await ptpass(['runs', 'list'], env);
  expect(after.code).toBe(1);
  expect(after.stderr).toMatch(/cannot reach the embedded database/);

  // The data outlives the server: a restart finds the demo studio and both run records.
  child = spawn(process.execPath, ['--import', 'tsx', 'client.ts', 'start', '--demo'], {
    cwd: ROOT,
    env: { ...env, ADMIN_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  output = '';
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const restarted = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  await waitFor(
    async () =>
      output.includes('"msg":"worker polling"') ||
      (child!.exitCode !== null && Promise.reject(new Error(output))),
    'the restarted worker to poll',
    150_000,
  );
  expect(output).toContain('Demo data not added: the database already has members.');
  const again = await ptpass(['runs', 'list', '--job', 'pass-lifecycle', '--json'], env);
  expect(again.json<unknown[]>()).toHaveLength(2);

  // The embedded server killed under the running stack (SIGKILL to its postmaster): npm start brings it
  // back on the same files; then the dev server likewise; and the worker, the CLI and the data carry on.
  const postmaster = readPostmasterPid(join(dataDir, 'postgres'))!;
  process.kill(postmaster, 'SIGKILL');
  await waitFor(
    async () => output.includes('embedded PostgreSQL: started again'),
    'the database to be back',
    60_000,
  );
  expect(output).toContain(`(postmaster pid ${postmaster}) is gone; bringing it back`);
  // The same for the Temporal dev server (SIGKILL): started again on its port and state file, Web UI included.
  const devServer = execFileSync('pgrep', ['-f', `start-dev --port ${ports.temporal} `], {
    encoding: 'utf8',
  });
  for (const pid of devServer.trim().split('\n')) process.kill(Number(pid), 'SIGKILL');
  await waitFor(
    async () => output.includes('Temporal dev server: started again'),
    'the dev server to be back',
    120_000,
  );
  expect(output).toContain(`Temporal dev server: 127.0.0.1:${ports.temporal} stopped answering`);
  expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);
  const later = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3 * 60_000 - 1000).toISOString();
  const afterKill = await ptpass(['job', 'run', 'pass-lifecycle', '--as-of', later, '--wait', '--json'], env);
  expect(afterKill.code, afterKill.stderr).toBe(0);
  expect(afterKill.json<{ outcome: string }>().outcome).toBe('completed');
  const runsNow = await ptpass(['runs', 'list', '--job', 'pass-lifecycle', '--json'], env);
  expect(runsNow.json<Array<{ runId: string; status: string }>>()).toContainEqual(
    expect.objectContaining({ runId: afterKill.json<{ runId: string }>().runId, status: 'COMPLETED' }),
  );

  child.kill('SIGTERM');
  expect(await restarted).toBe(0);
  // The server npm start brought back is stopped with it.
  const current = readPostmasterPid(join(dataDir, 'postgres'));
  expect(current === undefined || !isAlive(current)).toBe(true);
  expect((await ptpass(['runs', 'list'], env)).stderr).toMatch(/cannot reach the embedded database/);
});

/**
 * What a real PostgreSQL gives the stack: sessions that hold row locks at the same time, so a job's
 * partitions run side by side on their own connections. Both are shown with locks the test holds, not by
 * timing: each partition ends up waiting for a row lock while the other waits too.
 */
async function realPostgresChecks(url: string, temporalAddress: string): Promise<void> {
  const probe = postgres(url, { max: 1, onnotice: () => {} });
  const holders = [postgres(url, { max: 1 }), postgres(url, { max: 1 })];
  const connection = await Connection.connect({ address: temporalAddress });
  const database = createDb({ url, max: 2, applicationName: 'ptpass-test' });
  try {
    // The lowest and the highest pass fall into different key-range partitions; make both due.
    const [range] = await probe<Array<{ min: string; max: string }>>`
      SELECT min(id)::text AS min, max(id)::text AS max FROM passes`;
    const ids = [range!.min, range!.max];
    await probe`
      UPDATE passes SET status = 'READY', started_at = now() - interval '1 hour',
        ended_at = now() + interval '30 days', expired_at = NULL, remaining_count = 5
      WHERE id IN ${probe(ids)}`;

    // Two connections each lock one of them and keep their transactions open.
    const releases: Array<() => void> = [];
    const held = holders.map(
      (holder, i) =>
        new Promise<void>((locked, failed) => {
          holder
            .begin(async (tx) => {
              await tx`SELECT id FROM passes WHERE id = ${ids[i]!} FOR UPDATE`;
              locked();
              await new Promise<void>((release) => releases.push(release));
            })
            .catch(failed);
        }),
    );
    await Promise.all(held);
    const free = await probe`SELECT id FROM passes WHERE id IN ${probe(ids)} FOR UPDATE SKIP LOCKED`;
    expect(free).toHaveLength(0);

    // pass-lifecycle with its activate step in two partitions: each partition blocks on one locked pass.
    const client = new Client({ connection });
    const launched = await launchJob(
      { client, db: database.db, taskQueue: 'ptpass-start-test' },
      { job: 'pass-lifecycle', rerun: true, settings: { steps: { activate: { partitions: 2 } } } },
    );
    expect(launched.outcome).toBe('started');
    await waitFor(
      async () => {
        const [row] = await probe<Array<{ n: number }>>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE application_name = 'ptpass-worker' AND wait_event_type = 'Lock'`;
        return row!.n === 2;
      },
      'both partitions to wait on the locked passes at the same time',
      60_000,
    );
    for (const release of releases) release();

    const result = (await client.workflow.getHandle(launched.workflowId).result()) as JobResult;
    expect(result.steps.find((s) => s.step === 'activate')).toMatchObject({ partitions: 2, written: 2 });
    const activated = await probe`SELECT id FROM passes WHERE id IN ${probe(ids)} AND status = 'PROGRESSED'`;
    expect(activated).toHaveLength(2);
    const partitions = await probe<Array<{ partition: number; status: string; write_count: string }>>`
      SELECT s.partition, s.status, s.write_count::text FROM step_runs s
      WHERE s.job_run_id = ${result.jobRunId} AND s.step = 'activate' ORDER BY s.partition`;
    expect(partitions).toEqual([
      { partition: 0, status: 'COMPLETED', write_count: '1' },
      { partition: 1, status: 'COMPLETED', write_count: '1' },
    ]);
  } finally {
    await database.close();
    await connection.close();
    await Promise.all(holders.map((h) => h.end({ timeout: 5 })));
    await probe.end({ timeout: 5 });
  }
}
