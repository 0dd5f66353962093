import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchJob } from '../src/client/launch-job.ts';
import { getJobRun } from '../src/db/queries/runs.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedManyBookings, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { connectTemporal, type TemporalTestContext } from './helpers/temporal.ts';
import {
  expectSentOnceUnderTheirKeys,
  type Receiver,
  startReceiver,
  webhookWorkerEnv,
} from './helpers/webhook-receiver.ts';
import { spawnWorker, type WorkerProcess } from './helpers/worker-process.ts';

const SECRET = 'crash-test-webhook-secret-42';
const COUNT = 1000;
const CHUNK = 100;

let database: TestDatabase;
let temporal: TemporalTestContext;
let receiver: Receiver;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('crash_class_reminders');
  temporal = await connectTemporal('crash-class-reminders');
  receiver = await startReceiver(SECRET);
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await receiver?.close();
  await temporal?.close();
  await database?.drop();
});

it('a worker killed with SIGKILL mid-send loses nothing, duplicates no row, and repeats carry the same key', async () => {
  const T = uniqueAsOf();
  const user = await seedUser(database.db, '크래시');
  await seedManyBookings(database.db, {
    count: COUNT,
    userId: user,
    startsAt: new Date(T.getTime() + 300_000),
  });

  const first = await spawnWorker({
    databaseUrl: database.url,
    taskQueue: temporal.taskQueue,
    env: webhookWorkerEnv(receiver, SECRET),
  });
  workers.push(first);
  // Kill the worker from inside the receiver at the 350th request: pages 1-3 are committed, page 4 has been
  // half sent and is not, so its sent half will be sent again.
  const killAt = 3 * CHUNK + CHUNK / 2;
  let sentBeforeKill = 0;
  receiver.respond = () => {
    if (receiver.requests.length === killAt) {
      sentBeforeKill = receiver.requests.length;
      first.kill('SIGKILL');
    }
    return { status: 200, delayMs: 5 };
  };

  const launched = await launchJob(
    { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
    {
      job: 'class-reminders',
      asOf: T,
      settings: { heartbeatTimeoutSeconds: 3, steps: { deliver: { chunkSize: CHUNK } } },
    },
  );
  expect(launched.outcome).toBe('started');
  expect((await first.exited).signal).toBe('SIGKILL');
  expect(sentBeforeKill).toBe(killAt);
  const [atKill] = await database.db.execute<{ sent: number; pending: number }>(sql`
    SELECT count(*) FILTER (WHERE status = 'SENT')::int AS sent,
           count(*) FILTER (WHERE status = 'PENDING')::int AS pending
    FROM notifications`);
  // Only committed pages are SENT; the page in flight rolled back to PENDING.
  expect(atKill).toEqual({ sent: 3 * CHUNK, pending: COUNT - 3 * CHUNK });

  const second = await spawnWorker({
    databaseUrl: database.url,
    taskQueue: temporal.taskQueue,
    env: webhookWorkerEnv(receiver, SECRET),
  });
  workers.push(second);
  const result = (await temporal.client.workflow.getHandle(launched.workflowId).result()) as JobResult;

  // A clean run's counts: every booking queued once, every reminder recorded as sent once.
  expect(result.steps.map((s) => [s.step, s.read, s.written, s.skipped])).toEqual([
    ['enqueue', COUNT, COUNT, 0],
    ['deliver', COUNT, COUNT, 0],
  ]);
  const record = await getJobRun(database.db, launched.runId);
  expect(record?.steps.find((s) => s.step === 'deliver')?.attempt).toBeGreaterThanOrEqual(2);

  // No duplicate rows, nothing lost.
  const [rows] = await database.db.execute<{
    n: number;
    bookings: number;
    sent: number;
    attempts: number;
  }>(sql`
    SELECT count(*)::int AS n, count(DISTINCT subject->>'bookingId')::int AS bookings,
           count(*) FILTER (WHERE status = 'SENT')::int AS sent, max(attempts)::int AS attempts
    FROM notifications`);
  expect(rows).toEqual({ n: COUNT, bookings: COUNT, sent: COUNT, attempts: 1 });

  // The receiver got every notification; what it got twice came with the same key and the same body.
  const byKey = await expectSentOnceUnderTheirKeys(database.db, receiver);
  const repeated = [...byKey.values()].filter((requests) => requests.length > 1);
  expect(repeated.length).toBeGreaterThan(0);
  expect(repeated.length).toBeLessThanOrEqual(CHUNK);
  for (const requests of repeated) {
    expect(requests).toHaveLength(2);
    expect(new Set(requests.map((r) => r.rawBody)).size).toBe(1);
    expect(requests.every((r) => r.signatureValid)).toBe(true);
  }
  expect(receiver.requests).toHaveLength(COUNT + repeated.length);

  second.kill('SIGTERM');
  expect((await second.exited).code).toBe(0);
});
