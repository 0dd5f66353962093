import { afterAll, beforeAll } from 'vitest';
import type { LaunchDeps } from '../../src/client/launch-job.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { connectTemporal, type RunningWorker, type TemporalTestContext } from './temporal.ts';

type WorkerDeps = Omit<Parameters<TemporalTestContext['startWorker']>[0], 'db'>;

export interface JobTestEnvironment {
  /** This file's own migrated database. */
  readonly database: TestDatabase;
  /** The shared dev server, with this file's task queue and workflow bundle. */
  readonly temporal: TemporalTestContext;
  /** What `launchJob` needs to start jobs on this file's worker. */
  launchDeps(): LaunchDeps;
  /** Stops this file's in-process worker, if any, and starts a fresh one with these dependencies. */
  restartWorker(deps?: WorkerDeps): Promise<void>;
}

/**
 * The set-up every job test file shares: one database and one Temporal connection for the file (created
 * in `beforeAll`), an in-process worker the tests restart as they need, and everything closed in `afterAll`.
 */
export function useJobTestEnvironment(label: string): JobTestEnvironment {
  let database: TestDatabase | undefined;
  let temporal: TemporalTestContext | undefined;
  let worker: RunningWorker | undefined;
  const ready = () => {
    if (!database || !temporal) throw new Error('the job test environment is used before beforeAll ran');
    return { database, temporal };
  };
  beforeAll(async () => {
    database = await createTestDatabase(label.replaceAll('-', '_'));
    temporal = await connectTemporal(label);
  });
  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    await database?.drop();
  });
  return {
    get database() {
      return ready().database;
    },
    get temporal() {
      return ready().temporal;
    },
    launchDeps() {
      const env = ready();
      return { client: env.temporal.client, db: env.database.db, taskQueue: env.temporal.taskQueue };
    },
    async restartWorker(deps = {}) {
      const env = ready();
      await worker?.stop();
      worker = await env.temporal.startWorker({ db: env.database.db, ...deps });
    },
  };
}
