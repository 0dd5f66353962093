import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { type ActivityDeps, createActivities } from '../activities/index.ts';
import { COMPILED } from '../paths.ts';

export { WORKFLOWS_PATH } from './workflows-path.ts';

// The bundler script beside this file: bundle-workflows.ts run through tsx, or its compiled .js.
const BUNDLER = fileURLToPath(new URL(`./bundle-workflows.${COMPILED ? 'js' : 'ts'}`, import.meta.url));

/**
 * Bundles the workflows in a child process and returns the code. Webpack peaks at ~250 MB; doing it in a
 * short-lived process keeps that out of the long-running worker's resident set.
 */
export async function bundleWorkflowsIsolated(): Promise<{ code: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ptpass-bundle-'));
  const file = join(dir, 'workflows.js');
  try {
    await promisify(execFile)(process.execPath, [...(COMPILED ? [] : ['--import', 'tsx']), BUNDLER, file], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: readFileSync(file, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PtpassWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  shutdownGraceSeconds?: number;
  /** A prebuilt workflow bundle (tests bundle once per file); otherwise bundled now in a child process. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxConcurrentActivityTaskExecutions?: number;
}

/** The ptpass worker: every job workflow and every activity, on one task queue. */
export async function createPtpassWorker(options: PtpassWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: options.workflowBundle ?? (await bundleWorkflowsIsolated()),
    activities: createActivities(options.deps),
    // In-flight chunks get this long to commit after SIGTERM/SIGINT before activities are cancelled.
    shutdownGraceTime: `${options.shutdownGraceSeconds ?? 30} seconds`,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 16,
    // A step's heartbeats reach Temporal at most once a second (the SDK's default: 0.8 × the heartbeat
    // timeout, 48 s at the default 60 s). A stop, a Pause or a Reset reaches the running step in the
    // answer to a heartbeat, so it takes effect within a second and a chunk, not up to 48 s later
    // (`ptpass runs stop` of a run of a few seconds came back COMPLETED).
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  });
}
