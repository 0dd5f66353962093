import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { type AdminServer, startAdminServer } from '../../src/admin/server.ts';
import { applySchedules, type ScheduleDeps } from '../../src/client/schedules.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createPtpassWorker } from '../../src/worker/create-worker.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { createTestNamespace, temporalAddress } from './temporal.ts';

/**
 * The admin web on a stack of its own: a fresh database, a Temporal namespace of its own (schedule IDs are
 * the production job names, so schedule tests must not share a namespace), a worker in it with the
 * schedules applied, and the admin server on a free port.
 */

export const ADMIN_USER = 'owner';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface AdminStack {
  database: TestDatabase;
  namespace: string;
  taskQueue: string;
  client: Client;
  config: Config;
  env: NodeJS.ProcessEnv;
  schedules: ScheduleDeps;
  admin: AdminServer;
  close(): Promise<void>;
}

export async function startAdminStack(label: string): Promise<AdminStack> {
  const namespace = `${label}-${randomBytes(4).toString('hex')}`;
  const taskQueue = `${label}-${randomBytes(4).toString('hex')}`;
  const database = await createTestDatabase(label);
  const connection = await Connection.connect({ address: temporalAddress() });
  await createTestNamespace(connection, namespace);
  const client = new Client({ connection, namespace });
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress() });
  const worker: Worker = await createPtpassWorker({
    connection: nativeConnection,
    namespace,
    taskQueue,
    shutdownGraceSeconds: 5,
    deps: { db: database.db, logger: createLogger('warn'), businessTimeZone: 'Asia/Seoul' },
  });
  const running = worker.run();
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    TEMPORAL_UI_URL: 'http://temporal-ui.test:8233',
    BUSINESS_TIMEZONE: 'Asia/Seoul',
    LOG_LEVEL: 'error',
    ADMIN_HOST: '127.0.0.1',
    ADMIN_PORT: '0',
    ADMIN_USER,
    ADMIN_PASSWORD,
    ADMIN_SESSION_SECRET: randomBytes(32).toString('hex'),
  };
  const config = loadConfig(env);
  const schedules = { client, taskQueue, businessTimeZone: config.businessTimeZone };
  await applySchedules(schedules);
  const admin = await startAdminServer({ config, db: database.db, client, logger: createLogger('error') });
  return {
    database,
    namespace,
    taskQueue,
    client,
    config,
    env,
    schedules,
    admin,
    async close() {
      await admin.close();
      for await (const s of client.schedule.list()) await client.schedule.getHandle(s.scheduleId).delete();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await database.drop();
    },
  };
}

/** A browser-like HTTP client of the admin web: keeps cookies, never follows redirects. */
export class AdminBrowser {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  private remember(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const response = await fetch(this.base + path, {
      redirect: 'manual',
      headers: { Accept: 'text/html', Cookie: this.cookieHeader(), ...headers },
    });
    this.remember(response);
    return response;
  }

  async post(
    path: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const response = await fetch(this.base + path, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        Accept: 'text/html',
        'Content-Type': 'application/x-www-form-urlencoded',
        Cookie: this.cookieHeader(),
        ...headers,
      },
      body: new URLSearchParams(form).toString(),
    });
    this.remember(response);
    return response;
  }

  /** The hidden CSRF field of the first form on a page. */
  async csrfFrom(path: string): Promise<string> {
    const page = await (await this.get(path)).text();
    const match = /name="csrf" value="([^"]+)"/.exec(page);
    if (!match) throw new Error(`no CSRF token on ${path}`);
    return match[1]!;
  }

  async login(user = ADMIN_USER, password = ADMIN_PASSWORD): Promise<Response> {
    const csrf = await this.csrfFrom('/login');
    return this.post('/login', { csrf, user, password, next: '/runs' });
  }
}
