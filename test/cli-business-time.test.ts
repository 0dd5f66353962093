import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finishJobRun, insertJobRun } from '../src/db/queries/runs.ts';
import { notifications } from '../src/db/schema.ts';
import { ptpass } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { createTestNamespace, temporalAddress } from './helpers/temporal.ts';

/**
 * What ptpass shows with a time it shows in BUSINESS_TIMEZONE (README "Command line"): the text of each
 * listing names the zone in its column header and reads its times there; `--json` keeps ISO-8601 instants.
 * Schedules use the production IDs, so this file works in a Temporal namespace of its own.
 */

const ZONE = 'Asia/Seoul';
const namespace = `cli-business-time-${randomBytes(4).toString('hex')}`;

let database: TestDatabase;
let connection: Connection;
let client: Client;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  database = await createTestDatabase('cli_business_time');
  connection = await Connection.connect({ address: temporalAddress() });
  await createTestNamespace(connection, namespace);
  client = new Client({ connection, namespace });
  env = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: `cli-business-time-${randomBytes(4).toString('hex')}`,
    BUSINESS_TIMEZONE: ZONE,
  };
});
afterAll(async () => {
  if (client) {
    for await (const s of client.schedule.list()) await client.schedule.getHandle(s.scheduleId).delete();
  }
  await connection?.close();
  await database?.drop();
});

/** An instant as a Seoul wall clock reads it (Seoul keeps +09:00 all year), worked out apart from src/time.ts. */
const seoul = (instant: string) =>
  new Date(new Date(instant).getTime() + 9 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');

/** The text line of a table that starts with `key`. */
const row = (text: string, key: string) => text.split('\n').find((line) => line.startsWith(key)) ?? '';

describe('times in the text of ptpass listings', () => {
  it('runs list and runs show', async () => {
    const runId = randomUUID();
    await insertJobRun(database.db, {
      jobRunId: runId,
      workflowId: 'pass-lifecycle-2026-11-22T01:00:00Z',
      job: 'pass-lifecycle',
      asOf: '2026-11-22T01:00:00.000Z',
      params: {},
      dryRun: false,
    });
    await finishJobRun(database.db, {
      jobRunId: runId,
      status: 'COMPLETED',
      read: 0,
      written: 0,
      skipped: 0,
      result: {},
    });
    const json = (await ptpass(['runs', 'list', '--json'], env)).json<
      Array<{ runId: string; asOf: string; startedAt: string; endedAt: string }>
    >();
    const listed = json.find((r) => r.runId === runId)!;
    expect(listed.asOf).toBe('2026-11-22T01:00:00.000Z');

    const list = await ptpass(['runs', 'list'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^run +job +as of \(Asia\/Seoul\) +status .* started \(Asia\/Seoul\)$/m);
    expect(row(list.stdout, runId)).toMatch(
      new RegExp(
        `^${runId} +pass-lifecycle +2026-11-22 10:00:00 +COMPLETED +0 +0 +0 +${seoul(listed.startedAt)}$`,
      ),
    );

    const show = await ptpass(['runs', 'show', runId], env);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('pass-lifecycle as of 2026-11-22 10:00:00 (Asia/Seoul): COMPLETED\n');
    expect(show.stdout).toContain(
      `  started ${seoul(listed.startedAt)}, ended ${seoul(listed.endedAt)} (Asia/Seoul)\n`,
    );
  });

  it('notifications list', async () => {
    const [sent] = await database.db
      .insert(notifications)
      .values({
        event: 'pass-expiry',
        dedupeKey: `cli-business-time-${randomUUID()}`,
        channel: 'webhook',
        status: 'SENT',
        dueAt: new Date('2026-11-22T01:00:00Z'),
        sentAt: new Date('2026-11-22T01:05:30Z'),
        attempts: 1,
      })
      .returning({ id: notifications.id });
    const json = (await ptpass(['notifications', 'list', '--json'], env)).json<
      Array<{ id: string; dueAt: string; sentAt: string }>
    >();
    const listed = json.find((n) => n.id === sent!.id)!;
    expect(new Date(listed.dueAt).toISOString()).toBe('2026-11-22T01:00:00.000Z');

    const list = await ptpass(['notifications', 'list'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/ due \(Asia\/Seoul\) +sent \(Asia\/Seoul\) +last error$/m);
    expect(row(list.stdout, sent!.id)).toMatch(
      / pass-expiry +SENT +1 +2026-11-22 10:00:00 +2026-11-22 10:05:30$/,
    );
    expect(list.stdout).not.toContain('+00:00');
  });

  it('schedules list', async () => {
    expect((await ptpass(['schedules', 'apply'], env)).code).toBe(0);
    // A weekly schedule: its next run does not move between the two listings.
    expect((await ptpass(['schedules', 'trigger', 'prune-run-records'], env)).code).toBe(0);
    let state: { nextRuns: string[]; lastRun: string | null } | undefined;
    for (let i = 0; i < 100 && !state?.lastRun; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 100));
      const json = (await ptpass(['schedules', 'list', '--json'], env)).json<
        Array<{ scheduleId: string; nextRuns: string[]; lastRun: string | null }>
      >();
      state = json.find((s) => s.scheduleId === 'prune-run-records');
    }
    expect(state?.lastRun).toBeTruthy();

    const list = await ptpass(['schedules', 'list'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/ next run \(Asia\/Seoul\) +last run \(Asia\/Seoul\) +note$/m);
    expect(row(list.stdout, 'prune-run-records')).toMatch(
      new RegExp(` active +${seoul(state!.nextRuns[0]!)} +${seoul(state!.lastRun!)} +Weekly`),
    );
  });
});
