import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type { ActivityDeps } from '../../src/activities/index.ts';
import { createLogNotifier } from '../../src/activities/notifications/notifier.ts';
import { createLogger } from '../../src/logger.ts';
import { createPtpassWorker, WORKFLOWS_PATH } from '../../src/worker/create-worker.ts';
import { SEARCH_ATTRIBUTE_CLI_TYPES } from '../../src/workflows/search-attributes.ts';

export const temporalAddress = () => inject('temporalAddress');

export interface TemporalTestContext {
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  taskQueue: string;
  bundle: { code: string };
  /** A fresh worker on this file's task queue. */
  startWorker(
    deps: Omit<ActivityDeps, 'logger' | 'businessTimeZone'> & {
      logger?: ActivityDeps['logger'];
      /** Defaults to Asia/Seoul, the default BUSINESS_TIMEZONE. */
      businessTimeZone?: string;
    },
  ): Promise<RunningWorker>;
  close(): Promise<void>;
}

export interface RunningWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/** Connects to the shared dev server and bundles the workflows once for this file. */
export async function connectTemporal(label: string): Promise<TemporalTestContext> {
  const address = temporalAddress();
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const taskQueue = `test-${label}-${randomBytes(4).toString('hex')}`;
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return {
    client,
    connection,
    nativeConnection,
    taskQueue,
    bundle,
    async startWorker(deps) {
      const worker = await createPtpassWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        workflowBundle: bundle,
        shutdownGraceSeconds: 5,
        // Reminders go to the log channel unless a test passes its own notifier (e.g. a webhook receiver).
        deps: {
          logger: createLogger('warn'),
          businessTimeZone: 'Asia/Seoul',
          notifier: createLogNotifier(createLogger('warn')),
          ...deps,
        },
      });
      const running = worker.run();
      return {
        worker,
        async stop() {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
        },
      };
    },
    async close() {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

export const quietBundlerLogger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error(message: string, meta?: unknown) {
    console.error(message, meta);
  },
  log() {},
};

/**
 * Creates a namespace of its own on the shared dev server with the real `temporal` CLI and waits until it
 * answers: for tests that use production schedule IDs, which must not meet another file's.
 */
export async function createTestNamespace(connection: Connection, namespace: string): Promise<void> {
  await promisify(execFile)(inject('temporalCli'), [
    'operator',
    'namespace',
    'create',
    '--namespace',
    namespace,
    '--address',
    temporalAddress(),
  ]);
  for (let tries = 0; ; tries++) {
    const ready = await connection.workflowService.describeNamespace({ namespace }).then(
      () => true,
      () => false,
    );
    if (ready) break;
    if (tries > 400) throw new Error(`namespace ${namespace} did not become ready`);
    await new Promise((r) => setTimeout(r, 25));
  }
  // Search attributes belong to a namespace: every ptpass run sets them (src/workflows/search-attributes.ts).
  await promisify(execFile)(inject('temporalCli'), [
    'operator',
    'search-attribute',
    'create',
    '--namespace',
    namespace,
    ...Object.entries(SEARCH_ATTRIBUTE_CLI_TYPES).flatMap(([name, type]) => ['--name', name, '--type', type]),
    '--address',
    temporalAddress(),
  ]);
}
