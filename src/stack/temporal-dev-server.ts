import { connect } from 'node:net';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { PTPASS_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import { findProcesses, stopProcess } from './processes.ts';
import { superviseServer } from './supervisor.ts';
import { type CliLocation, devServerExecutable } from './temporal-cli.ts';

/**
 * `npm start`'s Temporal dev server (with its Web UI; state in a file), watched while the stack runs: when
 * its frontend port stops answering (the server was killed or crashed), it is started again on the same
 * port and state file, as a service manager would restart it. Workers and clients reconnect by themselves,
 * and the runs in the file carry on where they were.
 */

export class DevServerError extends Error {
  override name = 'DevServerError';
}

export interface DevServer {
  /** host:port of the frontend. */
  address: string;
  stop(): Promise<void>;
}

export async function startDevServer(options: {
  cli: CliLocation | undefined;
  ip: string;
  port: number;
  uiPort: number;
  dbFilename: string;
  namespace: string;
  /** What an operator should know: the server went away, was started again, or could not be (one line each). */
  onEvent?: (message: string) => void;
  /** How often the frontend port is checked; 1 s unless given. */
  watchEveryMs?: number;
  /** Aborted when the stack is asked to stop: from then on a server that goes away stays away. */
  stopSignal?: AbortSignal;
}): Promise<DevServer> {
  // A dev server left on this state file by an earlier npm start that was killed (SIGKILL): stopped first.
  await stopLeftovers(options.dbFilename, options.onEvent);
  // Anything else on the ports: say so now (the dev server would only log it, and its start time out).
  for (const [name, port] of [
    ['TEMPORAL_PORT', options.port],
    ['TEMPORAL_UI_PORT', options.uiPort],
  ] as const) {
    if (await answers(options.ip, port))
      throw new DevServerError(
        `${name}: ${options.ip}:${port} is already in use${
          name === 'TEMPORAL_PORT'
            ? ` (another Temporal server? To use it, set TEMPORAL_ADDRESS=${options.ip}:${port}; else choose another TEMPORAL_PORT)`
            : ' (choose another TEMPORAL_UI_PORT)'
        }`,
      );
  }
  const create = (port: number) =>
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: devServerExecutable(options.cli),
        ip: options.ip,
        port,
        ui: true,
        uiPort: options.uiPort,
        dbFilename: options.dbFilename,
        namespace: options.namespace,
        extraArgs: ['--log-level', 'error'],
        searchAttributes: [...PTPASS_SEARCH_ATTRIBUTES],
      },
    });
  let env = await create(options.port);
  let live = true;
  const address = env.connection.options.address ?? `${options.ip}:${options.port}`;
  const port = Number(address.split(':').at(-1));

  const supervisor = superviseServer({
    isUp: () => answers(options.ip, port),
    // Two misses in a row: a busy server still accepts connections, a gone one refuses them.
    misses: 2,
    wentAway: () => `${address} stopped answering; starting it again on ${options.dbFilename}`,
    bringBack: async () => {
      // The dead server's handle: nothing left to stop but its bookkeeping.
      if (live) await env.teardown().catch(() => {});
      live = false;
      // One an earlier attempt started but could not connect to holds the port: stopped first.
      await stopLeftovers(options.dbFilename);
      env = await create(port);
      live = true;
      return `started again on ${address}; workers reconnect`;
    },
    notify: (message) => options.onEvent?.(`Temporal dev server: ${message}`),
    stopSignal: options.stopSignal,
    everyMs: options.watchEveryMs,
  });

  return {
    address,
    stop: async () => {
      await supervisor.stop();
      if (live) await env.teardown();
    },
  };
}

/**
 * Stops dev servers running on `dbFilename` (this data directory's: only one `npm start` runs on a data
 * directory, so any found is a leftover of one that was killed, or of a start that failed half-way).
 */
async function stopLeftovers(dbFilename: string, onEvent?: (message: string) => void): Promise<void> {
  const found = findProcesses(
    (argv) => argv.includes('start-dev') && argv[argv.indexOf('--db-filename') + 1] === dbFilename,
  );
  for (const pid of found) {
    onEvent?.(
      `Temporal dev server: one left running on ${dbFilename} by an earlier start (pid ${pid}); stopping it first`,
    );
    const stopped = await stopProcess(pid, [
      ['SIGTERM', 10_000],
      ['SIGKILL', 5_000],
    ]);
    if (!stopped)
      throw new DevServerError(
        `the dev server left on ${dbFilename} (pid ${pid}) did not stop; stop it by hand`,
      );
  }
}

/** Whether something accepts TCP connections on host:port (within a second). */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
