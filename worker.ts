#!/usr/bin/env -S node --import tsx
/**
 * The ptpass worker process: every job workflow and activity on one task queue.
 * Configuration comes from the environment (README "Configuration"). SIGTERM/SIGINT stop it after the
 * chunks in flight commit; it then exits 0.
 */
import { type Config, loadConfig, resolveDatabaseUrl, resolveTemporalAddress } from './src/config.ts';
import { createDb, migrateDatabase } from './src/db/client.ts';
import { createLogger } from './src/logger.ts';
import { explainUnavailable } from './src/unavailable.ts';
import { prepareRuntime, runWorker, stopOnSignals } from './src/worker/run-worker.ts';

let config: Config | undefined;

async function main(): Promise<void> {
  config = loadConfig();
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
    const where = config && {
      databaseUrl: resolveDatabaseUrl(config).url,
      temporalAddress: resolveTemporalAddress(config),
    };
    const message = explainUnavailable(err, where) ?? (err instanceof Error ? err.message : String(err));
    process.stderr.write(`ptpass worker: ${message.split('\n')[0]}\n`);
    process.exit(1);
  },
);
