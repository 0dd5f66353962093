#!/usr/bin/env -S node --import tsx
/**
 * The ptpass worker process: every job workflow and activity on one task queue.
 * Configuration comes from the environment (see README "Configuration"). SIGTERM/SIGINT stop it after the
 * chunks in flight commit; it then exits 0.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createNotifier } from './src/activities/notifications/notifier.ts';
import { reconcileRuns } from './src/client/reconcile-runs.ts';
import { loadConfig, resolveDatabaseUrl, resolveTemporalAddress } from './src/config.ts';
import { createDb, migrateDatabase } from './src/db/client.ts';
import { createLogger } from './src/logger.ts';
import { createPtpassWorker } from './src/worker/create-worker.ts';

export async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, { service: 'ptpass-worker' });
  const database = resolveDatabaseUrl(config);
  const address = resolveTemporalAddress(config);

  await migrateDatabase({ url: database.url, embedded: database.embedded });
  const { db, close } = createDb({
    url: database.url,
    embedded: database.embedded,
    applicationName: 'ptpass-worker',
  });
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace: config.namespace });

  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info('stop requested; finishing the chunks in flight', { signal });
      stop.abort();
    });
  }
  const reconcile = setInterval(() => {
    reconcileRuns({ client, db }).catch((err: unknown) =>
      logger.warn('run reconciliation failed', { error: err }),
    );
  }, 60_000);

  try {
    const worker = await createPtpassWorker({
      connection,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      shutdownGraceSeconds: config.shutdownGraceSeconds,
      deps: {
        db,
        logger,
        stopSignal: stop.signal,
        notifier: createNotifier(config.notify, config.businessTimeZone, logger),
      },
    });
    logger.info('worker polling', {
      taskQueue: config.taskQueue,
      namespace: config.namespace,
      temporal: address,
      pid: process.pid,
    });
    await worker.run();
    logger.info('worker stopped');
  } finally {
    clearInterval(reconcile);
    await clientConnection.close();
    await connection.close();
    await close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`ptpass worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
