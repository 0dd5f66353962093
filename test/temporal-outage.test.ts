import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import { stepRuns } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { SEARCH_ATTRIBUTE_CLI_TYPES } from '../src/workflows/search-attributes.ts';
import { freePort } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedManyPasses, seedPackage, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

/**
 * The Temporal server restarted mid-run: a dev server of this file's own (the shared one serves every other
 * test file), persisted to a file so its history survives the restart.
 */

let database: TestDatabase;
let dir: string;
let address: string;
let server: ChildProcess | undefined;
const workers: WorkerProcess[] = [];

async function startServer(port: number): Promise<void> {
  server = spawn(
    inject('temporalCli'),
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--headless',
      '--db-filename',
      join(dir, 'temporal.db'),
      '--log-level',
      'error',
      // The search attributes every ptpass run sets (the worker refuses a namespace without them).
      ...Object.entries(SEARCH_ATTRIBUTE_CLI_TYPES).flatMap(([name, type]) => [
        '--search-attribute',
        `${name}=${type}`,
      ]),
    ],
    { stdio: 'ignore' },
  );
  await waitFor(
    async () => {
      try {
        const connection = await Connection.connect({ address, connectTimeout: '1 second' });
        await connection.workflowService.getSystemInfo({});
        await connection.close();
        return true;
      } catch {
        return false;
      }
    },
    'the Temporal dev server to answer',
    60_000,
  );
}

async function stopServer(): Promise<void> {
  const running = server;
  if (!running || running.exitCode !== null) return;
  const exited = new Promise((r) => running.once('exit', r));
  running.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  database = await createTestDatabase('temporal_outage');
  dir = mkdtempSync(join(tmpdir(), 'ptpass-temporal-'));
  const port = await freePort();
  address = `127.0.0.1:${port}`;
  await startServer(port);
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await stopServer();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await database?.drop();
});

it('the Temporal server restarted mid-step: the same worker process completes the run, every pass changed once', async () => {
  const T = uniqueAsOf();
  const user = await seedUser(database.db);
  const pkg = await seedPackage(database.db);
  const { due } = await seedManyPasses(database.db, {
    count: 8000,
    userId: user,
    packageId: pkg,
    asOf: T,
    every: 2,
  });
  const taskQueue = 'temporal-outage';
  const worker = await spawnWorker({
    databaseUrl: database.url,
    taskQueue,
    env: { TEMPORAL_ADDRESS: address },
  });
  workers.push(worker);

  let connection = await Connection.connect({ address });
  const launched = await launchJob(
    { client: new Client({ connection, namespace: 'default' }), db: database.db, taskQueue },
    { job: 'pass-lifecycle', asOf: T, settings: { steps: { expire: { chunkSize: 100, pauseMs: 30 } } } },
  );
  expect(launched.outcome).toBe('started');
  await waitFor(async () => {
    const [row] = await database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, launched.runId), eq(stepRuns.step, 'expire')));
    return row && row.chunks >= 5 ? row : undefined;
  }, 'the expire step to commit a few chunks');

  await connection.close();
  await stopServer();
  await startServer(Number(address.split(':')[1]));

  connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const result = (await Promise.race([
    client.workflow.getHandle(launched.workflowId).result(),
    worker.exited.then(({ code }) => {
      throw new Error(`the worker died (code ${code}):\n${worker.logs.slice(-5).join('\n')}`);
    }),
  ])) as JobResult;
  await connection.close();

  expect(result.steps.find((s) => s.step === 'expire')).toMatchObject({
    read: due,
    written: due,
    skipped: 0,
  });
  const record = await getJobRun(database.db, launched.runId);
  expect(record?.run).toMatchObject({ status: 'COMPLETED', readCount: due, writeCount: due });
  const rows = await database.db.execute<{ status: string; at_t: boolean; n: number }>(sql`
    SELECT status, expired_at = ${T.toISOString()}::timestamptz AS at_t, count(*)::int AS n
    FROM passes GROUP BY 1, 2 ORDER BY 1`);
  expect(rows.map((r) => ({ ...r }))).toEqual([
    { status: 'PROGRESSED', at_t: null, n: 8000 - due },
    { status: 'EXPIRED', at_t: true, n: due },
  ]);
  worker.kill('SIGTERM');
  expect((await worker.exited).code).toBe(0);
});
