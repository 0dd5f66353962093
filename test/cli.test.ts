import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands/index.ts';
import { jobRuns } from '../src/db/schema.ts';
import { ptpass } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';
import {
  connectTemporal,
  type RunningWorker,
  type TemporalTestContext,
  temporalAddress,
} from './helpers/temporal.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
let worker: RunningWorker;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  database = await createTestDatabase('cli');
  temporal = await connectTemporal('cli');
  worker = await temporal.startWorker({ db: database.db });
  env = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: temporal.taskQueue,
  };
});
afterAll(async () => {
  await worker?.stop();
  await temporal?.close();
  await database?.drop();
});

describe('ptpass command line', () => {
  it('every subcommand has --help', async () => {
    for (const command of COMMANDS) {
      const run = await ptpass([...command.words, '--help'], {});
      expect(run.code, command.words.join(' ')).toBe(0);
      expect(run.stdout).toContain(`Usage: ptpass ${command.words.join(' ')}`);
      expect(run.stdout).toContain('--json');
    }
    const top = await ptpass(['--help'], {});
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('ptpass job run <job>');
  });

  it('bad input exits 2 with one line naming the problem, and writes nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['job', 'run'], /^ptpass job run: which job\?/],
      [['job', 'run', 'nope'], /^ptpass job run: unknown job 'nope' \(jobs: pass-lifecycle/],
      [
        ['job', 'run', 'pass-lifecycle', '--as-of', 'yesterday'],
        /^ptpass job run: --as-of 'yesterday' is not an ISO-8601 time/,
      ],
      [['job', 'run', 'pass-lifecycle', '--as-of', '2026-02-30T10:00:00Z'], /--as-of '2026-02-30T10:00:00Z'/],
      [['job', 'run', 'pass-lifecycle', '--frobnicate'], /^ptpass job run: Unknown option '--frobnicate'$/m],
      [['job', 'run', 'pass-lifecycle', '--param', 'x'], /--param 'x' must be KEY=VALUE/],
      [['job', 'run', 'pass-lifecycle', '--param', 'x=1'], /invalid parameters for pass-lifecycle: params/],
      [['runs', 'show', 'not-a-uuid'], /'not-a-uuid' is not a run ID/],
      [['runs', 'list', '--limit', '0'], /--limit must be a whole number from 1 to 1000/],
      [['frobnicate'], /^ptpass: unknown command 'frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const run = await ptpass(args, env);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
    const bad = await ptpass(['job', 'run', 'pass-lifecycle', '--as-of', 'soon', '--json'], env);
    expect(bad.json()).toEqual({ error: expect.stringContaining('--as-of') });
    expect(await database.db.$count(jobRuns)).toBe(0);

    const badEnv = await ptpass(['runs', 'list'], { ...env, BUSINESS_TIMEZONE: 'Nowhere/Land' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/BUSINESS_TIMEZONE/);
  });

  it('says what is unreachable instead of hanging or dumping a stack', async () => {
    const run = await ptpass(['runs', 'list'], {
      ...env,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^ptpass runs list: (DATABASE_URL: cannot use the database at postgres:\/\/postgres@127.0.0.1:1\/none: connection refused|TEMPORAL_ADDRESS: cannot reach Temporal)/,
    );
  });

  it('runs a job and shows its record, as text and as JSON', async () => {
    const T = uniqueAsOf();
    const user = await seedUser(database.db);
    const pkg = await seedPackage(database.db);
    await seedPass(database.db, {
      userId: user,
      packageId: pkg,
      startedAt: new Date(T.getTime() - 1000),
      endedAt: new Date(T.getTime() + 86_400_000),
    });

    const run = await ptpass(
      ['job', 'run', 'pass-lifecycle', '--as-of', T.toISOString(), '--wait', '--json'],
      env,
    );
    expect(run.code).toBe(0);
    const out = run.json<{
      outcome: string;
      runId: string;
      result: { written: number; steps: Array<{ step: string; written: number }> };
      url: string;
    }>();
    expect(out.outcome).toBe('completed');
    expect(out.result.steps.map((s) => [s.step, s.written])).toEqual([
      ['activate', 1],
      ['expire', 0],
    ]);
    expect(out.url).toContain(`/workflows/pass-lifecycle-`);

    const again = await ptpass(['job', 'run', 'pass-lifecycle', '--as-of', T.toISOString()], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already completed earlier; not run again \(use --rerun/);

    const list = await ptpass(['runs', 'list', '--job', 'pass-lifecycle', '--json'], env);
    expect(list.json<Array<{ runId: string; status: string; written: number }>>()).toContainEqual(
      expect.objectContaining({ runId: out.runId, status: 'COMPLETED', written: 1 }),
    );
    const show = await ptpass(['runs', 'show', out.runId], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/pass-lifecycle as of .*: COMPLETED/);
    expect(show.stdout).toMatch(/activate\s+0\s+COMPLETED\s+1\s+1\s+0/);
  });

  it('job run takes run settings, records them on the run and runs show prints them', async () => {
    const T = uniqueAsOf();
    const run = await ptpass(
      [
        'job',
        'run',
        'pass-lifecycle',
        '--as-of',
        T.toISOString(),
        '--chunk-size',
        '7',
        '--partitions',
        '2',
        '--heartbeat-timeout',
        '30',
        '--max-attempts',
        '3',
        '--wait',
        '--json',
      ],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    const { runId } = run.json<{ runId: string }>();
    const expected = {
      heartbeatTimeoutSeconds: 30,
      maxAttempts: 3,
      steps: { activate: { chunkSize: 7, partitions: 2 }, expire: { chunkSize: 7, partitions: 2 } },
    };
    const [row] = await database.db.select().from(jobRuns).where(eq(jobRuns.id, runId));
    expect(row?.settings).toEqual(expected);
    const show = await ptpass(['runs', 'show', runId, '--json'], env);
    expect(show.json<{ settings: unknown }>().settings).toEqual(expected);
    expect((await ptpass(['runs', 'show', runId], env)).stdout).toMatch(
      /^ {2}settings \{.*"heartbeatTimeoutSeconds":30/m,
    );
  });

  it('a completed instance asked for with other parameters is refused, naming the instance', async () => {
    const T = uniqueAsOf();
    const first = await ptpass(
      ['job', 'run', 'pass-expiry-reminders', '--as-of', T.toISOString(), '--wait'],
      env,
    );
    expect(first.code, first.stderr).toBe(0);
    const runsBefore = await database.db.$count(jobRuns);
    const other = await ptpass(
      ['job', 'run', 'pass-expiry-reminders', '--as-of', T.toISOString(), '--param', 'leadDays=5'],
      env,
    );
    expect(other.code).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    expect(other.stderr).toMatch(
      /already ran with params \{"leadDays":3,.*\} \(run [0-9a-f-]+\); to run params \{"leadDays":5,.*\}, give another --as-of or add --rerun$/m,
    );
    expect(await database.db.$count(jobRuns)).toBe(runsBefore);
    // The same parameters, spelled out, are the same instance: its earlier result is reported.
    const same = await ptpass(
      ['job', 'run', 'pass-expiry-reminders', '--as-of', T.toISOString(), '--param', 'leadDays=3'],
      env,
    );
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/already completed earlier/);
  });
});
