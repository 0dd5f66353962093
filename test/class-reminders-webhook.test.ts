import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asc, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Notifier } from '../src/activities/notifications/notifier.ts';
import { createWebhookChannel } from '../src/activities/notifications/webhook-channel.ts';
import { runCli } from '../src/cli/run-cli.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { notifications } from '../src/db/schema.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedBooking, seedManyBookings, seedUser, uniqueAsOf } from './helpers/seed.ts';
import { connectTemporal, type RunningWorker, type TemporalTestContext } from './helpers/temporal.ts';
import { type Receiver, startReceiver, verifySignature } from './helpers/webhook-receiver.ts';

const SECRET = 'test-webhook-secret-0123456789';

let T: Date;
const minutes = (n: number) => new Date(T.getTime() + n * 60_000);

let database: TestDatabase;
let temporal: TemporalTestContext;
let receiver: Receiver;
let worker: RunningWorker | undefined;

beforeAll(async () => {
  database = await createTestDatabase('class_reminders_webhook');
  temporal = await connectTemporal('class-reminders-webhook');
  receiver = await startReceiver(SECRET);
});
afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
  await temporal?.close();
  await database?.drop();
});
beforeEach(async () => {
  T = uniqueAsOf();
  await worker?.stop();
  worker = undefined;
  receiver.requests.length = 0;
  receiver.respond = () => ({ status: 200 });
  await database.db.execute(sql`TRUNCATE notifications, bookings, job_runs, users RESTART IDENTITY CASCADE`);
});

/** A worker sending through the webhook channel to this file's receiver. */
async function startWebhookWorker(options: Partial<Notifier> & { url?: string } = {}) {
  const { url, ...rest } = options;
  const notifier: Notifier = {
    channel: createWebhookChannel({ url: url ?? receiver.url, secret: SECRET }),
    concurrency: 4,
    retry: { maxAttempts: 3, backoffMs: 10, timeoutMs: 2000 },
    locale: 'ko',
    timeZone: 'Asia/Seoul',
    ...rest,
  };
  worker = await temporal.startWorker({ db: database.db, notifier });
}

async function run(settings?: Parameters<typeof launchJob>[1]['settings']): Promise<JobResult> {
  const launched = await launchJob(
    { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
    { job: 'class-reminders', asOf: T, wait: true, settings },
  );
  if (launched.outcome !== 'completed') throw new Error(`unexpected ${launched.outcome}`);
  return launched.result;
}

/** A URL on a local port nothing listens on. */
async function unusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/notify`;
}

const rows = () => database.db.select().from(notifications).orderBy(asc(notifications.dedupeKey));
const deliverStep = (result: JobResult) => result.steps.find((s) => s.step === 'deliver')!;

describe('class-reminders through the webhook channel', () => {
  it('POSTs signed JSON with the notification ID as Idempotency-Key', async () => {
    await startWebhookWorker();
    const user = await seedUser(database.db, '김민지');
    await seedBooking(database.db, { userId: user, startedAt: minutes(4) });
    await seedBooking(database.db, { userId: user, startedAt: minutes(9) });

    await run();
    const sent = await rows();
    expect(sent.map((r) => [r.status, r.channel, r.attempts])).toEqual([
      ['SENT', 'webhook', 1],
      ['SENT', 'webhook', 1],
    ]);
    expect(receiver.requests).toHaveLength(2);
    for (const row of sent) {
      const [request, ...more] = receiver.requests.filter((r) => r.idempotencyKey === row.id);
      expect(more).toHaveLength(0);
      // The receiver recomputes the HMAC over the raw body with the shared secret: it matches...
      expect(request!.signatureValid).toBe(true);
      // ...and would not with another secret.
      expect(verifySignature(request!.rawBody, request!.signature, 'another-secret-0123456789')).toBe(false);
      expect(request!.body).toMatchObject({
        id: row.id,
        event: 'class-reminder',
        locale: 'ko',
        message: row.message,
        recipient: { userId: user, name: '김민지', phone: '010-0000-0000' },
        subject: row.subject,
      });
    }
  });

  it('retries 5xx and 429 with the same idempotency key until the receiver accepts', async () => {
    await startWebhookWorker();
    // Each notification: 503, then 429 with Retry-After, then accepted.
    receiver.respond = (r) =>
      r.nth === 1
        ? { status: 503 }
        : r.nth === 2
          ? { status: 429, headers: { 'retry-after': '0' } }
          : { status: 200 };
    const user = await seedUser(database.db, '박준');
    for (const m of [1, 2, 3]) await seedBooking(database.db, { userId: user, startedAt: minutes(m) });

    const result = await run();
    expect(deliverStep(result)).toMatchObject({ read: 3, written: 3, skipped: 0 });
    const sent = await rows();
    expect(sent.map((r) => [r.status, r.attempts, r.lastError])).toEqual([
      ['SENT', 3, null],
      ['SENT', 3, null],
      ['SENT', 3, null],
    ]);
    const byKey = receiver.byKey();
    expect([...byKey.keys()].sort()).toEqual(sent.map((r) => r.id).sort());
    for (const requests of byKey.values()) {
      expect(requests.map((r) => r.nth)).toEqual([1, 2, 3]);
      // Every attempt is the same request: same body, same signature.
      expect(new Set(requests.map((r) => r.rawBody)).size).toBe(1);
      expect(requests.every((r) => r.signatureValid)).toBe(true);
    }
  });

  it('a 400 ends FAILED with the reason and is not retried; the rest of the batch is sent', async () => {
    await startWebhookWorker();
    const refused = await seedUser(database.db, '거부');
    const fine = await seedUser(database.db, '정상');
    await seedBooking(database.db, { userId: refused, startedAt: minutes(2) });
    await seedBooking(database.db, { userId: fine, startedAt: minutes(3) });
    receiver.respond = (r) => (r.body.recipient.userId === refused ? { status: 400 } : { status: 200 });

    const result = await run();
    expect(deliverStep(result)).toMatchObject({ read: 2, written: 1, skipped: 1 });
    const [first, second] = await rows();
    expect(first).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      lastError: 'rejected: HTTP 400: status 400',
    });
    expect(first!.sentAt).toBeNull();
    expect(second).toMatchObject({ status: 'SENT', attempts: 1, lastError: null });
    expect(receiver.byKey().get(first!.id)).toHaveLength(1);

    // A later run does not pick the FAILED one up again.
    T = minutes(1);
    await run();
    expect(receiver.requests).toHaveLength(2);

    // The operator fixes the receiver and puts the failed reminder back; the next run sends it, same key.
    receiver.respond = () => ({ status: 200 });
    const out: string[] = [];
    const cli = (...argv: string[]) =>
      runCli(argv, {
        stdout: (t) => out.push(t),
        stderr: (t) => out.push(t),
        env: { DATABASE_URL: database.url },
      });
    expect(await cli('notifications', 'list', '--status', 'failed', '--json')).toBe(0);
    expect(JSON.parse(out.pop()!)).toMatchObject([{ id: first!.id, status: 'FAILED', attempts: 1 }]);
    expect(await cli('notifications', 'retry', '--all-failed')).toBe(0);
    expect(out.pop()).toMatch(/^1 FAILED notification back in the outbox/);
    expect(await cli('notifications', 'retry', 'not-a-uuid')).toBe(2);
    T = new Date(T.getTime() + 30_000); // before the class, which starts at the original T + 2 min
    await run();
    const [retried] = await rows();
    expect(retried).toMatchObject({ id: first!.id, status: 'SENT', attempts: 2, lastError: null });
    expect(
      receiver
        .byKey()
        .get(first!.id)
        ?.map((r) => r.nth),
    ).toEqual([1, 2]);
  });

  it('a receiver that hangs is cut off by the timeout and retried; one that is down ends FAILED', async () => {
    await startWebhookWorker({ retry: { maxAttempts: 3, backoffMs: 10, timeoutMs: 300 } });
    const user = await seedUser(database.db, '느림');
    await seedBooking(database.db, { userId: user, startedAt: minutes(5) });
    receiver.respond = (r) => (r.nth === 1 ? { status: 200, delayMs: 5000 } : { status: 200 });
    await run();
    const [row] = await rows();
    expect(row).toMatchObject({ status: 'SENT', attempts: 2, lastError: null });
    expect(receiver.requests.map((r) => r.idempotencyKey)).toEqual([row!.id, row!.id]);

    // Nothing listens on the URL: network errors are retried, then the reminder ends FAILED.
    await worker!.stop();
    await startWebhookWorker({
      url: await unusedUrl(),
      retry: { maxAttempts: 3, backoffMs: 10, timeoutMs: 300 },
    });
    await seedBooking(database.db, { userId: user, startedAt: minutes(7) });
    T = minutes(1);
    await run();
    const failed = (await rows()).find((r) => r.status !== 'SENT');
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 3 });
    expect(failed!.lastError).toMatch(/^gave up after 3 attempts: network error: ECONNREFUSED/);
  });

  it('overlapping runs share the outbox: each reminder is sent by exactly one of them', async () => {
    await startWebhookWorker({ concurrency: 2 });
    // A slow receiver keeps the first run's pages locked while the next minute's run starts.
    receiver.respond = () => ({ status: 200, delayMs: 20 });
    const user = await seedUser(database.db, '겹침');
    await seedManyBookings(database.db, { count: 60, userId: user, startsAt: minutes(9) });

    const launch = (asOf: Date) =>
      launchJob(
        { client: temporal.client, db: database.db, taskQueue: temporal.taskQueue },
        { job: 'class-reminders', asOf, settings: { steps: { deliver: { chunkSize: 10 } } } },
      );
    const first = await launch(T);
    const second = await launch(minutes(1));
    const results = (await Promise.all(
      [first, second].map((l) => temporal.client.workflow.getHandle(l.workflowId).result()),
    )) as JobResult[];

    // Both runs saw the same 60 classes; between them they sent each reminder once.
    expect(results.map((r) => r.steps[0]!.read)).toEqual([60, 60]);
    expect(results.reduce((n, r) => n + r.steps[0]!.written, 0)).toBe(60);
    expect(results.reduce((n, r) => n + deliverStep(r).written, 0)).toBe(60);
    expect(receiver.requests).toHaveLength(60);
    expect(receiver.byKey().size).toBe(60);
    expect(await database.db.$count(notifications)).toBe(60);
  });

  it('10,000 reminders: every one delivered once, never more in flight than the configured bound', async () => {
    const bound = 7;
    await startWebhookWorker({ concurrency: bound });
    // Answers after a millisecond, so requests overlap at the receiver.
    receiver.respond = () => ({ status: 200, delayMs: 1 });
    const user = await seedUser(database.db, '대량');
    await seedManyBookings(database.db, { count: 10_000, userId: user, startsAt: minutes(6) });

    const result = await run();
    expect(result.steps.map((s) => [s.step, s.read, s.written, s.skipped])).toEqual([
      ['enqueue', 10_000, 10_000, 0],
      ['deliver', 10_000, 10_000, 0],
    ]);
    expect(receiver.requests).toHaveLength(10_000);
    expect(receiver.byKey().size).toBe(10_000);
    expect(receiver.maxInFlight()).toBe(bound);
    const [counts] = await database.db.execute<{ sent: number; attempts: number }>(
      sql`SELECT count(*) FILTER (WHERE status = 'SENT')::int AS sent, sum(attempts)::int AS attempts FROM notifications`,
    );
    expect(counts).toEqual({ sent: 10_000, attempts: 10_000 });
  });
});
