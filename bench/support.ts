import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';

/** Shared pieces of the benchmark: timing, a real worker process with peak-RSS tracking, table output. */

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The business time zone of every arm; the worker process is started with it (statistics days). */
export const BENCH_TIME_ZONE = process.env.BUSINESS_TIMEZONE ?? 'Asia/Seoul';

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

export interface BenchWorker {
  pid: number;
  /** Peak resident set size so far, from the kernel's VmHWM. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

let built = false;

/** The node flags of the image's worker command (the Dockerfile's `CMD ["node", ...flags, "dist/worker.js"]`). */
export function imageWorkerFlags(): string[] {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  const argv = cmd ? (JSON.parse(cmd) as string[]) : [];
  if (argv[0] !== 'node' || argv.at(-1) !== 'dist/worker.js')
    throw new Error(`unexpected worker CMD: ${cmd}`);
  return argv.slice(1, -1);
}

/**
 * The worker as production runs it (the image's `node dist/worker.js`): compiled, no tsx loader in the
 * process whose peak RSS is measured. Builds first (incremental: quick when nothing changed).
 */
export async function startWorkerProcess(env: Record<string, string>): Promise<BenchWorker> {
  if (!built) {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    built = true;
  }
  // BENCH_WORKER_NODE_OPTIONS: flags for the worker's node only (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const nodeFlags = process.env.BENCH_WORKER_NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...imageWorkerFlags(), ...nodeFlags, 'dist/worker.js'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        METRICS_PORT: '0',
        BUSINESS_TIMEZONE: BENCH_TIME_ZONE,
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('"msg":"worker polling"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${log.slice(-2000)}`)));
    // LOG_LEVEL=warn hides the polling line; fall back to a short settle time.
    setTimeout(resolve, 15_000).unref();
  });
  const pid = child.pid!;
  return {
    pid,
    peakRssMb() {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        return Math.round(kb / 1024);
      } catch {
        return 0;
      }
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function adminSql(url: string) {
  return postgres(url, { max: 1, onnotice: () => {} });
}

export function formatTable(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

export const fmt = {
  s: (x: number) => x.toFixed(2),
  rate: (rows: number, s: number) => (s > 0 ? Math.round(rows / s).toLocaleString('en-US') : '-'),
  ratio: (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '-'),
};

/**
 * The reference arm's two sessions: `reader` holds the cursor over the items, `writer` commits every 5
 * items, as the course project's chunk-oriented step does.
 */
export function referenceSessions(url: string) {
  const reader = postgres(url, { max: 1, onnotice: () => {} });
  const writer = postgres(url, { max: 1, onnotice: () => {} });
  return { reader, writer, end: async () => void (await Promise.all([reader.end(), writer.end()])) };
}

export interface ReceiverStats {
  requests: number;
  distinctKeys: number;
  badSignatures: number;
  /** md5 of the distinct Idempotency-Keys, sorted and joined by ','. */
  keysHash: string;
}

export interface BenchReceiver {
  pid: number;
  /** Where to POST notifications (NOTIFY_WEBHOOK_URL). */
  url: string;
  stats(): Promise<ReceiverStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The webhook receiver (bench/receiver.ts) in its own process, verifying signatures with `secret`. */
export async function startReceiverProcess(secret: string): Promise<BenchReceiver> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/receiver.ts'], {
    cwd: ROOT,
    env: { ...process.env, RECEIVER_SECRET: secret },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    pid: child.pid!,
    url: `${base}/notify`,
    async stats() {
      return (await (await fetch(`${base}/stats`)).json()) as ReceiverStats;
    },
    async reset() {
      await fetch(`${base}/reset`, { method: 'POST' });
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** How many step partitions (`runStep` activities) each worker identity ran, from a run's history. */
export function stepsByWorker(
  events: Array<{
    eventId?: unknown;
    activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
    activityTaskStartedEventAttributes?: { scheduledEventId?: unknown; identity?: string | null } | null;
  }>,
): Record<string, number> {
  const steps = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStep')
      .map((e) => String(e.eventId)),
  );
  const counts: Record<string, number> = {};
  for (const e of events) {
    const started = e.activityTaskStartedEventAttributes;
    if (!started || !steps.has(String(started.scheduledEventId))) continue;
    const identity = started.identity ?? '?';
    counts[identity] = (counts[identity] ?? 0) + 1;
  }
  return counts;
}

type TimelineEvent = {
  eventId?: unknown;
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  workflowExecutionStartedEventAttributes?: unknown;
  activityTaskScheduledEventAttributes?: {
    activityType?: { name?: string | null } | null;
    userMetadata?: unknown;
  } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null;
  workflowTaskScheduledEventAttributes?: unknown;
  workflowTaskStartedEventAttributes?: unknown;
  workflowTaskCompletedEventAttributes?: unknown;
};

/**
 * Where a run's wall time went, from its history: from the launch to the workflow's start, then each
 * activity's and workflow task's wait for a worker (scheduled → started) and its run (started → completed), in milliseconds
 * from the launch, and the time from the workflow's last event to the moment the launcher saw the result.
 */
export function timeline(events: TimelineEvent[], launchedAt: number, sawResultAt: number): string {
  const ms = (e: TimelineEvent) =>
    Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6) - launchedAt;
  const scheduled = new Map<string, { name: string; at: number; started?: number }>();
  const parts: string[] = [];
  let task: { at: number; started?: number } | undefined;
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) parts.push(`workflow started ${ms(e)}`);
    if (e.workflowTaskScheduledEventAttributes) task = { at: ms(e) };
    if (e.workflowTaskStartedEventAttributes && task) task.started = ms(e);
    if (e.workflowTaskCompletedEventAttributes && task)
      parts.push(`(task ${task.at}+${(task.started ?? task.at) - task.at}→${ms(e)})`);
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched) scheduled.set(String(e.eventId), { name: sched.activityType?.name ?? '?', at: ms(e) });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const s = scheduled.get(String(started.scheduledEventId));
      if (s) s.started = ms(e);
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const s = scheduled.get(String(done.scheduledEventId));
      if (s) parts.push(`${s.name} ${s.at}+${(s.started ?? s.at) - s.at}→${ms(e)}`);
    }
  }
  const last = events.at(-1);
  if (last) parts.push(`closed ${ms(last)}, result seen ${sawResultAt - launchedAt}`);
  return parts.join(' · ');
}
