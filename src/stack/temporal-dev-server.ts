import { connect } from 'node:net';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { PTPASS_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import { type CliLocation, devServerExecutable } from './temporal-cli.ts';

/**
 * `npm start`'s Temporal dev server (with its Web UI; state in a file), watched while the stack runs: when
 * its frontend port stops answering (the server was killed or crashed), it is started again on the same
 * port and state file, as a service manager would restart it. Workers and clients reconnect by themselves,
 * and the runs in the file carry on where they were.
 */

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
}): Promise<DevServer> {
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
  const address = env.connection.options.address ?? `${options.ip}:${options.port}`;
  const port = Number(address.split(':').at(-1));
  const notify = (message: string) => options.onEvent?.(`Temporal dev server: ${message}`);

  let stopping = false;
  let restarting: Promise<void> | undefined;
  let missed = 0;
  const restart = async () => {
    notify(`${address} stopped answering; starting it again on ${options.dbFilename}`);
    // The dead server's handle: nothing left to stop but its bookkeeping.
    await env.teardown().catch(() => {});
    for (let attempt = 1; !stopping; attempt++) {
      try {
        env = await create(port);
        notify(`started again on ${address}; workers reconnect`);
        return;
      } catch (err) {
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        notify(`could not start it again (attempt ${attempt}: ${why}); trying again in 2 s`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  const watch = setInterval(() => {
    if (stopping || restarting !== undefined) return;
    void answers(options.ip, port).then((up) => {
      // Two misses in a row: a busy server still accepts connections, a gone one refuses them.
      missed = up ? 0 : missed + 1;
      if (missed < 2 || stopping || restarting !== undefined) return;
      missed = 0;
      restarting = restart().finally(() => {
        restarting = undefined;
      });
    });
  }, options.watchEveryMs ?? 1000);
  watch.unref();

  return {
    address,
    stop: async () => {
      stopping = true;
      clearInterval(watch);
      await restarting;
      await env.teardown();
    },
  };
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
