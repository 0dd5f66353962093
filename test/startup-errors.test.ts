import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ptpass } from './helpers/cli.ts';
import { type OwnPostgres, startOwnPostgres } from './helpers/embedded-postgres.ts';
import { temporalAddress } from './helpers/temporal.ts';

/**
 * Start-up against a database or Temporal that is not there (or refuses us) says so in one line naming the
 * variable and the cause — never `Failed query: SELECT pg_advisory_lock(...)`.
 * The server with password authentication is one of this file's own (embedded-postgres).
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let server: OwnPostgres;
let closedPort: number;

beforeAll(async () => {
  server = await startOwnPostgres();
  closedPort = await freePort();
});
afterAll(async () => {
  await server?.destroy();
});

function runWorker(
  env: Record<string, string>,
): Promise<{ code: number | null; lastLine: string; all: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'worker.ts'], {
      cwd: ROOT,
      env: { ...process.env, METRICS_PORT: '0', LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let all = '';
    child.stderr.on('data', (d: Buffer) => {
      all += d.toString();
    });
    child.once('exit', (code) => resolve({ code, all, lastLine: all.trim().split('\n').pop() ?? '' }));
  });
}

const cases = () => [
  {
    name: 'connection refused',
    url: `postgres://postgres:postgres@127.0.0.1:${closedPort}/ptpass`,
    expected:
      /^DATABASE_URL: cannot use the database at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/ptpass: connection refused/,
  },
  {
    name: 'a database that does not exist',
    url: server.url('nosuchdb'),
    expected: /^DATABASE_URL: .*: database "nosuchdb" does not exist$/,
  },
  {
    name: 'wrong credentials',
    url: server.url('postgres').replace('postgres:postgres@', 'postgres:wrong@'),
    expected: /^DATABASE_URL: .*: password authentication failed for user "postgres"$/,
  },
];

describe.each(['refused', 'missing', 'credentials'])('database %s', (which) => {
  const pick = () => cases()[['refused', 'missing', 'credentials'].indexOf(which)]!;

  it('the worker exits 1 with one line naming DATABASE_URL and the cause', async () => {
    const { url, expected } = pick();
    const run = await runWorker({ DATABASE_URL: url, TEMPORAL_ADDRESS: temporalAddress() });
    expect(run.code).toBe(1);
    expect(run.all).not.toContain('Failed query');
    expect(run.lastLine.replace(/^ptpass worker: /, '')).toMatch(expected);
  });

  it.each([['db', 'migrate'], ['runs', 'list'], ['notifications', 'list'], ['admin']])(
    'ptpass %s prints one line naming DATABASE_URL and the cause',
    async (...args) => {
      const { url, expected } = pick();
      const run = await ptpass(args, {
        DATABASE_URL: url,
        TEMPORAL_ADDRESS: temporalAddress(),
        ADMIN_PASSWORD: 'a-long-enough-password',
      });
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).not.toContain('Failed query');
      expect(run.stderr.trim().replace(/^ptpass [a-z ]+: /, '')).toMatch(expected);
    },
  );
});

describe('Temporal unreachable', () => {
  it('the worker exits 1 with one line naming TEMPORAL_ADDRESS and the cause', async () => {
    const url = await server.createDatabase('ptpass_startup');
    const run = await runWorker({ DATABASE_URL: url, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}` });
    expect(run.code).toBe(1);
    expect(run.lastLine).toBe(
      `ptpass worker: TEMPORAL_ADDRESS: cannot reach Temporal at 127.0.0.1:${closedPort}: connection refused`,
    );
  });

  // `schedules list` always asks Temporal (`runs list` only when a run says RUNNING).
  it('ptpass schedules list prints one line naming TEMPORAL_ADDRESS', async () => {
    const run = await ptpass(['schedules', 'list'], {
      DATABASE_URL: server.url('postgres'),
      TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}`,
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^ptpass schedules list: TEMPORAL_ADDRESS: cannot reach Temporal at 127\.0\.0\.1:\d+ /,
    );
  });
});
