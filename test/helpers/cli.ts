import { createServer } from 'node:net';
import { runCli } from '../../src/cli/run-cli.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json<T = unknown>(): T;
}

/** Runs `ptpass ...args` in-process with the given environment, capturing its output. */
export async function ptpass(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env,
  });
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}

/** Ports `freePort` gave out in this process. */
const handedOut = new Set<number>();

/**
 * A port nothing listens on, for a server a test starts. Drawn at random below the system's ephemeral range
 * (32768 up): the system offers a port it just freed again soon (measured: 237 repeats in 2,000 asks), so
 * test files asking it at once got the same port, and a client connection may take one from that range.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      handedOut.add(port);
      return port;
    }
  }
}
