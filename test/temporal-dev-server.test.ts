import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { findProcesses, isAlive } from '../src/stack/processes.ts';
import { DevServerError, startDevServer } from '../src/stack/temporal-dev-server.ts';
import { freePort } from './helpers/cli.ts';
import { waitFor } from './helpers/worker-process.ts';

/**
 * What `npm start` finds on the dev server's ports and state file before it starts its own: a port taken by
 * something else is named at once (the dev server would only log it, and its start time out); a dev server
 * left on the state file by an earlier, killed npm start is stopped first.
 */

const dir = mkdtempSync(join(tmpdir(), 'ptpass-devserver-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = { path: inject('temporalCli'), source: 'TEMPORAL_CLI' } as const;

it('a Temporal port already in use is refused at once, naming the variable and what to do', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const started = Date.now();
    const refused = await startDevServer({
      cli,
      ip: '127.0.0.1',
      port,
      uiPort: await freePort(),
      dbFilename: join(dir, 'taken.db'),
      namespace: 'default',
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DevServerError);
    expect((refused as Error).message).toBe(
      `TEMPORAL_PORT: 127.0.0.1:${port} is already in use (another Temporal server? To use it, set TEMPORAL_ADDRESS=127.0.0.1:${port}; else choose another TEMPORAL_PORT)`,
    );
    // Before any server was started (not after a start that timed out).
    expect(Date.now() - started).toBeLessThan(10_000);
  } finally {
    taken.close();
  }
});

it('a dev server left on the state file by a killed npm start is stopped first, then a new one serves the file', async () => {
  const dbFilename = join(dir, 'left.db');
  const port = await freePort();
  const uiPort = await freePort();
  // What a SIGKILLed npm start leaves behind: its dev server, still running on the state file and ports.
  const left = spawn(
    cli.path,
    ['server', 'start-dev', '--port', String(port), '--ui-port', String(uiPort), '--db-filename', dbFilename],
    { stdio: 'ignore', detached: true },
  );
  await waitFor(
    async () =>
      new Promise<boolean>((resolve) => {
        const probe = createServer();
        probe.once('error', () => resolve(true));
        probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
      }),
    'the left-over dev server to listen',
  );

  const events: string[] = [];
  const server = await startDevServer({
    cli,
    ip: '127.0.0.1',
    port,
    uiPort,
    dbFilename,
    namespace: 'default',
    onEvent: (message) => events.push(message),
  });
  try {
    expect(events).toEqual([
      `Temporal dev server: one left running on ${dbFilename} by an earlier start (pid ${left.pid}); stopping it first`,
    ]);
    expect(isAlive(left.pid!)).toBe(false);
    expect(server.address).toBe(`127.0.0.1:${port}`);
    expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
  } finally {
    await server.stop();
  }
});

it('once the stack is stopping, a dev server that goes away is not started again', async () => {
  const port = await freePort();
  const stopping = new AbortController();
  const events: string[] = [];
  const server = await startDevServer({
    cli,
    ip: '127.0.0.1',
    port,
    uiPort: await freePort(),
    dbFilename: join(dir, 'stopping.db'),
    namespace: 'default',
    onEvent: (message) => events.push(message),
    watchEveryMs: 100,
    stopSignal: stopping.signal,
  });
  try {
    // Ctrl-C: the stack's stop signal, and the SIGINT that reaches the dev server in the same process group.
    stopping.abort();
    const [pid] = findProcesses((argv) => argv.includes('start-dev') && argv.includes(String(port)));
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGINT');
    await waitFor(async () => !isAlive(pid!), 'the dev server to stop');
    await new Promise((r) => setTimeout(r, 1500));
    expect(events).toEqual([]);
    expect(findProcesses((argv) => argv.includes('start-dev') && argv.includes(String(port)))).toEqual([]);
  } finally {
    await server.stop();
  }
});
