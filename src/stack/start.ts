import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startAdminServer } from '../admin/server.ts';
import { startGrantIssue } from '../client/grant.ts';
import { type Config, resolveTemporalAddress } from '../config.ts';
import { createDb, migrateDatabase } from '../db/client.ts';
import { createLogger } from '../logger.ts';
import { prepareRuntime, runWorker, stopOnSignals } from '../worker/run-worker.ts';
import { seedDemoStudio } from './demo-seed.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.ts';
import { commandLine, isAlive } from './processes.ts';
import { ensureTemporalCli } from './temporal-cli.ts';
import { startDevServer } from './temporal-dev-server.ts';

/**
 * `npm start`: the whole stack in one process tree — the Temporal dev server with its Web UI (state in a
 * file), the database (PostgreSQL from DATABASE_URL, or an embedded PostgreSQL), migrations and the worker.
 * Ctrl-C stops it cleanly: chunks in flight commit first.
 */
export async function startStack(
  config: Config,
  options: { demo: boolean; out: (line: string) => void },
): Promise<void> {
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // Before anything starts: another npm start on this directory is refused with nothing done.
  const closers: Array<() => Promise<void>> = [claimDataDir(dataDir)];
  const logger = createLogger(config.logLevel, { service: 'ptpass' });
  const stopSignal = stopOnSignals(logger, (signal) =>
    options.out(`\n${signal}: stopping — letting the chunks in flight commit...`),
  );
  const { sdkMetricsPort } = await prepareRuntime(config, logger);

  try {
    // Temporal: an explicit TEMPORAL_ADDRESS, or a dev server of our own.
    let address = resolveTemporalAddress(config);
    let temporalNote = `${address} (external)`;
    if (!config.temporalAddress) {
      const cli = await ensureTemporalCli({ explicit: config.temporalCli, log: options.out });
      const dbFilename = join(dataDir, 'temporal.db');
      const server = await startDevServer({
        cli,
        ip: '127.0.0.1',
        port: config.temporalPort,
        uiPort: config.temporalUiPort,
        dbFilename,
        namespace: config.namespace,
        onEvent: (message) => logger.warn(message),
        stopSignal,
      });
      closers.push(() => server.stop());
      address = server.address;
      temporalNote = `${address} (dev server, state in ${dbFilename})`;
    }

    // Database: DATABASE_URL, or an embedded PostgreSQL on a local port for every process.
    let embedded: EmbeddedPostgres | undefined;
    let url = config.databaseUrl;
    if (!url) {
      embedded = await startEmbeddedPostgres({
        dataDir: join(dataDir, 'postgres'),
        port: config.dbPort,
        onLog: (line) => logger.debug('postgres', { line }),
        onEvent: (message) => logger.warn(message),
        stopSignal,
      });
      closers.push(() => embedded!.stop());
      url = embedded.url;
    }
    await migrateDatabase({ url });
    const database = createDb({ url, max: 10, applicationName: 'ptpass-worker' });
    closers.push(database.close);

    const connection = await Connection.connect({ address });
    closers.push(() => connection.close());
    const client = new Client({ connection, namespace: config.namespace });

    if (options.demo) {
      const seeded = await seedDemoStudio(database.db, new Date(), config.businessTimeZone);
      // The demo's bulk pass is issued at its time by its own workflow, as a grant's is.
      if (seeded.bulkPass) await startGrantIssue({ client, taskQueue: config.taskQueue }, seeded.bulkPass);
      options.out(
        seeded.seeded
          ? `Demo studio seeded: ${seeded.members} members in 2 groups, passes and bookings around now.`
          : 'Demo data not added: the database already has members.',
      );
    }

    // The admin web, on the same database and Temporal; ADMIN_PORT=0 turns it off.
    let adminNote = 'off (ADMIN_PORT=0)';
    if (config.adminPort) {
      const admin = await startAdminServer({
        config,
        db: database.db,
        client,
        logger,
        generatePassword: true,
      });
      closers.push(admin.close);
      adminNote = `${admin.url}  user '${admin.user}', ${
        admin.generatedPassword
          ? `password ${admin.generatedPassword} (generated for this run: set ADMIN_PASSWORD to choose one)`
          : 'password from ADMIN_PASSWORD'
      }`;
    }

    options.out(
      [
        '',
        'ptpass is running',
        `  Admin web        ${adminNote}`,
        `  Temporal Web UI  ${config.temporalUiUrl}`,
        `  Temporal         ${temporalNote}`,
        `  Database         ${embedded ? `embedded PostgreSQL 17 on ${embedded.url}, files in ${embedded.dataDir}` : 'DATABASE_URL'}`,
        `  Worker           task queue '${config.taskQueue}', namespace '${config.namespace}'`,
        `  Metrics          ${config.metricsPort ? `http://127.0.0.1:${config.metricsPort}/metrics` : 'off (METRICS_PORT=0)'}`,
        '  Schedules        applied; see `npm run ptpass -- schedules list`',
        '  Try              npm run ptpass -- job run pass-lifecycle --wait',
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
    await runWorker({
      config,
      logger,
      db: database.db,
      address,
      sdkMetricsPort,
      applySchedules: true,
      stopSignal,
    });
    options.out('worker stopped');
  } finally {
    for (const close of closers.reverse()) {
      await close().catch((err: unknown) => logger.warn('shutdown step failed', { error: err }));
    }
  }
}

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

/**
 * One `npm start` per data directory: its pid in `<dataDir>/npm-start.pid`. Another `npm start` still
 * running there is refused, so that its dev server and database are never taken for the leftovers of a
 * killed one (which the servers' start-up stops); the file of one that is gone is taken over. Returns the
 * release, which removes the file.
 */
function claimDataDir(dataDir: string): () => Promise<void> {
  const file = join(dataDir, 'npm-start.pid');
  let other: number | undefined;
  try {
    other = Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    // No file: nobody runs here.
  }
  if (other && other !== process.pid && isAlive(other)) {
    const argv = commandLine(other);
    // Without /proc the command line is unknown: a live pid is taken to be an npm start.
    const ours = !argv || (argv.includes('start') && argv.some((a) => /client\.[jt]s$|ptpass$/.test(a)));
    if (ours)
      throw new DataDirInUseError(
        `another npm start (pid ${other}) runs on ${dataDir}; stop it first, or set PTPASS_DATA_DIR to another directory${argv ? '' : ` (if pid ${other} is not one, delete ${file})`}`,
      );
  }
  writeFileSync(file, `${process.pid}\n`);
  return async () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file);
    } catch {
      // Gone already.
    }
  };
}
