import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { temporalAddress } from './temporal.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerProcess {
  pid: number;
  /** Everything the process wrote to stderr (JSON log lines). */
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `worker.ts` as its own OS process (what production runs) and waits until it polls. */
export async function spawnWorker(options: {
  databaseUrl: string;
  taskQueue: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<WorkerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'worker.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_TASK_QUEUE: options.taskQueue,
      LOG_LEVEL: 'info',
      // Several worker processes run at once in tests; metrics only where a test asks for them.
      METRICS_PORT: '0',
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    let buffer = '';
    child.stderr?.on('data', (data: Buffer) => {
      buffer += data.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        logs.push(line);
        if (line.includes('"msg":"worker polling"')) resolve();
      }
    });
    void exited.then(({ code, signal }) =>
      reject(
        new Error(
          `worker exited before polling (code ${code}, signal ${signal}):\n${logs.slice(-20).join('\n')}`,
        ),
      ),
    );
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`worker did not poll within ${options.readyTimeoutMs ?? 90_000} ms`)),
      options.readyTimeoutMs ?? 90_000,
    ).unref(),
  );
  await Promise.race([ready, timeout]);
  return { pid: child.pid!, logs, exited, kill: (signal) => child.kill(signal) };
}

/** Polls until `check` returns a truthy value. Not a timing assertion: it only bounds a wait. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false | null>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
