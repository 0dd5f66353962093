import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { afterAll, expect, it } from 'vitest';
import {
  type EmbeddedPostgres,
  readPostmasterPid,
  startEmbeddedPostgres,
} from '../src/stack/embedded-postgres.ts';
import { isAlive, processStat } from '../src/stack/processes.ts';
import { freePort } from './helpers/cli.ts';
import { waitFor } from './helpers/worker-process.ts';

/**
 * `npm start`'s embedded PostgreSQL is watched while the stack runs: killed, it is started again on the
 * same files; restarted from outside (`pg_ctl restart`), the new server is adopted; once the stack is
 * stopping, nothing is started again; and its stop stops whichever server runs. The server leads a process
 * group of its own, so a terminal's Ctrl-C reaches only `npm start`, which stops it after the chunks in
 * flight have committed (the embedded-postgres patch in patches/).
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ptpass-embedded-'));
// As root the server runs as the `postgres` user, which must be able to enter the directory.
chmodSync(dir, 0o755);
const dataDir = join(dir, 'pg');
let server: EmbeddedPostgres | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const postmaster = () => readPostmasterPid(dataDir)!;
const processGroup = (pid: number) => processStat(pid)?.pgrp;

async function count(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM kept`;
    return row!.n;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

it('the embedded PostgreSQL comes back when killed, is adopted when restarted from outside, stays down once the stack stops, and stops either way', async () => {
  const events: string[] = [];
  const port = await freePort();
  const stopping = new AbortController();
  server = await startEmbeddedPostgres({
    dataDir,
    port,
    onEvent: (message) => events.push(message),
    watchEveryMs: 100,
    stopSignal: stopping.signal,
  });
  const setup = postgres(server.url, { max: 1, onnotice: () => {} });
  await setup`CREATE TABLE kept (n int)`;
  await setup`INSERT INTO kept SELECT generate_series(1, 3)`;
  await setup.end();
  const first = postmaster();
  // A process group of its own: a terminal's Ctrl-C to npm start's group does not reach it.
  expect(processGroup(first)).toBe(first);
  expect(processGroup(first)).not.toBe(processGroup(process.pid));

  // Killed (SIGKILL: no shutdown at all): started again on the same files, within seconds.
  process.kill(first, 'SIGKILL');
  await waitFor(
    async () => events.some((e) => e.includes('started again')),
    'the server to start again',
    60_000,
  );
  const second = postmaster();
  expect(second).not.toBe(first);
  expect(isAlive(second)).toBe(true);
  expect(await count(server.url)).toBe(3);

  // Restarted from outside with the server's own pg_ctl, as the user the server runs as, while the watcher
  // runs: adopted, whether pg_ctl's start or the watcher's comes first.
  const pgCtl = join(dirname(readlinkSync(`/proc/${second}/exe`)), 'pg_ctl');
  const owner = statSync(`/proc/${second}`);
  await promisify(execFile)(
    pgCtl,
    ['restart', '-D', dataDir, '-m', 'fast', '-w', '-l', join(dataDir, 'restart.log')],
    { uid: owner.uid, gid: owner.gid },
  ).catch((err: unknown) => {
    // pg_ctl's own start may lose the race to the watcher's; either way one server runs.
    if (!String((err as { stderr?: string }).stderr).includes('could not start server')) throw err;
  });
  await waitFor(
    async () => events.filter((e) => /restarted from outside|started again/.test(e)).length === 2,
    'the restarted server to be watched',
  );
  const third = postmaster();
  expect(third).not.toBe(second);
  expect(isAlive(third)).toBe(true);
  expect(await count(server.url)).toBe(3);

  // What the operator was told, one line each (retries aside: a start may be refused while the old
  // server's backends still hold its shared memory).
  const on = `embedded PostgreSQL: the server on 127.0.0.1:${port}`;
  expect(events.filter((e) => !e.includes('could not bring it back'))).toEqual([
    `${on} (postmaster pid ${first}) is gone; bringing it back`,
    `embedded PostgreSQL: started again (postmaster pid ${second}); connections resume`,
    `${on} (postmaster pid ${second}) is gone; bringing it back`,
    expect.stringMatching(
      new RegExp(
        `^embedded PostgreSQL: (restarted from outside \\(postmaster pid ${third}\\); watching it|started again \\(postmaster pid ${third}\\); connections resume)$`,
      ),
    ),
  ]);

  // The stack is stopping (Ctrl-C): a server that goes away now stays away, and stop() still returns.
  stopping.abort();
  const told = events.length;
  process.kill(third, 'SIGKILL');
  await waitFor(async () => !isAlive(third), 'the killed server to be gone');
  await new Promise((r) => setTimeout(r, 1500));
  expect(events).toHaveLength(told);
  expect(isAlive(postmaster())).toBe(false);
  await server.stop();
  server = undefined;
  const after = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1, connect_timeout: 2 });
  await expect(after`SELECT 1`).rejects.toThrow();
  await after.end({ timeout: 1 });
});

it('stop() ends a running server and returns once it is gone', async () => {
  const port = await freePort();
  const own = await startEmbeddedPostgres({ dataDir: join(dir, 'pg2'), port, watchEveryMs: 100 });
  const pid = readPostmasterPid(join(dir, 'pg2'))!;
  expect(isAlive(pid)).toBe(true);
  await own.stop();
  expect(isAlive(pid)).toBe(false);
});

it('a server left running on the files by an earlier start that was killed is stopped first, then the new one starts', async () => {
  const files = join(dir, 'pg3');
  const port = await freePort();
  // The earlier `npm start`, killed with SIGKILL: its server, in a process group of its own, runs on.
  const earlier = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/hold-embedded-postgres.ts', files, String(port)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let said = '';
  earlier.stdout?.on('data', (d: Buffer) => {
    said += d.toString();
  });
  await waitFor(
    async () =>
      said.includes('ready') || (earlier.exitCode !== null && Promise.reject(new Error('holder exited'))),
    'the earlier start',
  );
  earlier.kill('SIGKILL');
  await new Promise((resolve) => earlier.once('exit', resolve));
  const left = readPostmasterPid(files)!;
  expect(isAlive(left)).toBe(true);

  const events: string[] = [];
  const next = await startEmbeddedPostgres({ dataDir: files, port, onEvent: (m) => events.push(m) });
  try {
    expect(events).toEqual([
      `embedded PostgreSQL: a server left running on ${files} by an earlier start (postmaster pid ${left}); stopping it first`,
    ]);
    expect(isAlive(left)).toBe(false);
    const running = readPostmasterPid(files)!;
    expect(running).not.toBe(left);
    const sql = postgres(next.url, { max: 1, onnotice: () => {} });
    expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    await sql.end();
  } finally {
    await next.stop();
  }
});
