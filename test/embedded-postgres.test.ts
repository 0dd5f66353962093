import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { afterAll, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/stack/embedded-postgres.ts';
import { freePort } from './helpers/cli.ts';
import { waitFor } from './helpers/worker-process.ts';

/**
 * `npm start`'s embedded PostgreSQL is watched while the stack runs: killed, it is started again on the
 * same files; restarted from outside (`pg_ctl restart`), the new server is adopted; either way the stack's
 * stop stops whichever server runs.
 */

const dir = mkdtempSync(join(tmpdir(), 'ptpass-embedded-'));
// As root the server runs as the `postgres` user, which must be able to enter the directory.
chmodSync(dir, 0o755);
let server: EmbeddedPostgres | undefined;

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const postmasterPid = () => Number(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function count(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM kept`;
    return row!.n;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

it('the embedded PostgreSQL comes back when killed, is adopted when restarted from outside, and stops either way', async () => {
  const events: string[] = [];
  const port = await freePort();
  server = await startEmbeddedPostgres({
    dataDir: join(dir, 'pg'),
    port,
    onEvent: (message) => events.push(message),
    watchEveryMs: 100,
  });
  const setup = postgres(server.url, { max: 1, onnotice: () => {} });
  await setup`CREATE TABLE kept (n int)`;
  await setup`INSERT INTO kept SELECT generate_series(1, 3)`;
  await setup.end();

  // Killed (SIGKILL: no shutdown at all): started again on the same files, within seconds.
  const first = postmasterPid();
  process.kill(first, 'SIGKILL');
  await waitFor(
    async () => events.some((e) => e.includes('started again')),
    'the server to start again',
    60_000,
  );
  const second = postmasterPid();
  expect(second).not.toBe(first);
  expect(alive(second)).toBe(true);
  expect(await count(server.url)).toBe(3);

  // Restarted from outside with the server's own pg_ctl, as the user the server runs as: adopted, not raced.
  const pgCtl = join(dirname(readlinkSync(`/proc/${second}/exe`)), 'pg_ctl');
  const owner = statSync(`/proc/${second}`);
  const restarted = spawnSync(
    pgCtl,
    ['restart', '-D', join(dir, 'pg'), '-m', 'fast', '-w', '-l', join(dir, 'pg', 'restart.log')],
    {
      uid: owner.uid,
      gid: owner.gid,
      encoding: 'utf8',
    },
  );
  expect(restarted.status, `${restarted.stdout}${restarted.stderr}`).toBe(0);
  await waitFor(
    async () => events.some((e) => e.includes('restarted from outside')),
    'the restart to be adopted',
  );
  const third = postmasterPid();
  expect(third).not.toBe(second);
  expect(await count(server.url)).toBe(3);

  // The stack's stop stops the adopted server too (not the package's child, which is long gone).
  await server.stop();
  server = undefined;
  expect(alive(third)).toBe(false);
  const after = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1, connect_timeout: 2 });
  await expect(after`SELECT 1`).rejects.toThrow();
  await after.end({ timeout: 1 });
  // What the operator was told, one line each: nothing else.
  const on = `embedded PostgreSQL: the server on 127.0.0.1:${port}`;
  expect(events).toEqual([
    `${on} (postmaster pid ${first}) went away; bringing it back`,
    `embedded PostgreSQL: started again (postmaster pid ${second}); connections resume`,
    `${on} (postmaster pid ${second}) went away; bringing it back`,
    `embedded PostgreSQL: restarted from outside (postmaster pid ${third}); watching it`,
  ]);
});
