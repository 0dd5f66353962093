import { createServer } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createNotifier } from '../activities/notifications/notifier.ts';
import { reconcileRuns } from '../client/reconcile-runs.ts';
import { applySchedules } from '../client/schedules.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../logger.ts';
import { SEARCH_ATTRIBUTE_CLI_TYPES } from '../workflows/search-attributes.ts';
import { createPtpassWorker } from './create-worker.ts';
import { createJobMetrics, installRuntime, startMetricsServer } from './observability.ts';

/**
 * Everything a worker process does besides its entrypoint's own set-up (worker.ts, `npm start`): SDK
 * runtime with JSON logs and metrics, the /metrics endpoint, optionally the schedules, the worker itself,
 * run-record reconciliation, and a stop that lets chunks in flight commit.
 */

async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Must run before any Temporal connection is made in this process. */
export async function prepareRuntime(config: Config, logger: Logger): Promise<{ sdkMetricsPort?: number }> {
  const sdkMetricsPort = config.metricsPort ? await freeLocalPort() : undefined;
  installRuntime({ logger, level: config.logLevel, sdkMetricsPort });
  return { sdkMetricsPort };
}

export interface RunWorkerOptions {
  config: Config;
  logger: Logger;
  db: Db;
  address: string;
  sdkMetricsPort?: number;
  applySchedules: boolean;
  /** Aborted on SIGTERM/SIGINT by the caller. */
  stopSignal: AbortSignal;
}

/**
 * Every run sets the ptpass search attributes; in a namespace without them its workflow task would fail
 * over and over. Say so at start instead, with the command that fixes it.
 */
async function requireSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.keys(SEARCH_ATTRIBUTE_CLI_TYPES).filter(
    (name) => !(name in (customAttributes ?? {})),
  );
  if (missing.length === 0) return;
  const create = Object.entries(SEARCH_ATTRIBUTE_CLI_TYPES)
    .map(([name, type]) => `--name ${name} --type ${type}`)
    .join(' ');
  throw new Error(
    `namespace '${namespace}' lacks the search attribute${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ` +
      `run: temporal operator search-attribute create --namespace ${namespace} ${create}`,
  );
}

export async function runWorker(options: RunWorkerOptions): Promise<void> {
  const { config, logger, db } = options;
  const closers: Array<() => Promise<void>> = [];
  try {
    const metrics = createJobMetrics();
    if (config.metricsPort) {
      const server = await startMetricsServer({
        port: config.metricsPort,
        registry: metrics.registry,
        sdkMetricsPort: options.sdkMetricsPort,
      });
      closers.push(server.close);
      logger.info('metrics served', { url: `http://127.0.0.1:${config.metricsPort}/metrics` });
    }
    const connection = await NativeConnection.connect({ address: options.address });
    closers.push(() => connection.close());
    const clientConnection = await Connection.connect({ address: options.address });
    closers.push(() => clientConnection.close());
    const client = new Client({ connection: clientConnection, namespace: config.namespace });
    await requireSearchAttributes(clientConnection, config.namespace);

    if (options.applySchedules) {
      const changes = await applySchedules({
        client,
        taskQueue: config.taskQueue,
        businessTimeZone: config.businessTimeZone,
      });
      logger.info('schedules applied', { changes: changes.map((c) => `${c.scheduleId}: ${c.change}`) });
    }

    const worker = await createPtpassWorker({
      connection,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      shutdownGraceSeconds: config.shutdownGraceSeconds,
      maxConcurrentActivityTaskExecutions: config.activitySlots,
      deps: {
        db,
        logger,
        businessTimeZone: config.businessTimeZone,
        notifier: createNotifier(config.notify, config.businessTimeZone, logger),
        operatorAlertTo: config.operatorAlertTo,
        activitySlots: config.activitySlots,
        stopSignal: options.stopSignal,
        hooks: metrics.hooks,
        // What this deployment's configuration says where a run does not.
        paramDefaults: {
          'deduct-sessions': { noShow: config.noShowPolicy },
          'prune-run-records': { retentionDays: config.runRetentionDays },
        },
      },
    });
    const stop = () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    };
    if (options.stopSignal.aborted) stop();
    options.stopSignal.addEventListener('abort', stop);

    const reconcile = setInterval(() => {
      reconcileRuns({ client, db }).catch((err: unknown) =>
        logger.warn('run reconciliation failed', { error: err }),
      );
    }, 60_000);
    closers.push(async () => clearInterval(reconcile));

    logger.info('worker polling', {
      taskQueue: config.taskQueue,
      namespace: config.namespace,
      temporal: options.address,
      pid: process.pid,
    });
    await worker.run();
    logger.info('worker stopped');
  } finally {
    for (const close of closers.reverse()) {
      await close().catch((err: unknown) => logger.warn('shutdown step failed', { error: err }));
    }
  }
}

/** Aborts the returned signal on SIGTERM, SIGINT or SIGHUP (once), logging it. */
export function stopOnSignals(logger: Logger, onStop?: (signal: string) => void): AbortSignal {
  const controller = new AbortController();
  // SIGHUP: the terminal it runs in was closed.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (controller.signal.aborted) return;
      logger.info('stop requested; letting the chunks in flight commit', { signal });
      onStop?.(signal);
      controller.abort();
    });
  }
  return controller.signal;
}
