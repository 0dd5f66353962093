#!/usr/bin/env -S node --import tsx
/**
 * The ptpass worker process: every job workflow and activity on one task queue.
 * Configuration comes from the environment (README "Configuration"). SIGTERM/SIGINT stop it after the
 * chunks in flight commit; it then exits 0.
 */
import { loadConfig, resolveDatabaseUrl, resolveTemporalAddress } from './src/config.ts';
import { createDb, migrateDatabase } from './src/db/client.ts';
import { createLogger } from './src/logger.ts';
import { prepareRuntime, runWorker, stopOnSignals } from './src/worker/run-worker.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, { service: 'ptpass-worker' });
  const stopSignal = stopOnSignals(logger);
  const { sdkMetricsPort } = await prepareRuntime(config, logger);
  const database = resolveDatabaseUrl(config);
  await migrateDatabase({ url: database.url });
  const { db, close } = createDb({
    url: database.url,
    applicationName: 'ptpass-worker',
  });
  try {
    await runWorker({
      config,
      logger,
      db,
      address: resolveTemporalAddress(config),
      sdkMetricsPort,
      applySchedules: config.applySchedules,
      stopSignal,
    });
  } finally {
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
