import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { AdminBrowser } from './helpers/admin.ts';
import { freePort, ptpass } from './helpers/cli.ts';
import { waitFor } from './helpers/worker-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'ptpass-start-'));
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

it('npm start brings up dev server, Web UI, embedded database and worker; other commands use them; Ctrl-C stops it', async () => {
  const ports = {
    temporal: await freePort(),
    ui: await freePort(),
    pglite: await freePort(),
    metrics: await freePort(),
    admin: await freePort(),
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PTPASS_DATA_DIR: dataDir,
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    PTPASS_PGLITE_PORT: String(ports.pglite),
    METRICS_PORT: String(ports.metrics),
    ADMIN_PORT: String(ports.admin),
    TEMPORAL_TASK_QUEUE: 'ptpass-start-test',
  };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;

  // What `npm start -- --demo` runs.
  child = spawn(process.execPath, ['--import', 'tsx', 'client.ts', 'start', '--demo'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
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
  const metrics = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
  expect(metrics).toContain(`ptpass_job_runs_total{job="pass-lifecycle",outcome="COMPLETED"} ${runs.length}`);
  expect(metrics).toContain('ptpass_step_rows_total{job="pass-lifecycle",step="activate",kind="written"} 10');
  expect(metrics).toContain('ptpass_step_rows_total{job="pass-lifecycle",step="expire",kind="written"} 20');
  expect(metrics).toMatch(/temporal_\w+/);

  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(output).toContain('worker stopped');
  // Everything it started is gone with it: the embedded database port answers no more.
  const after = await ptpass(['runs', 'list'], env);
  expect(after.code).toBe(1);
  expect(after.stderr).toMatch(/cannot reach/);
});
