import { sql } from 'drizzle-orm';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { MIGRATIONS_FOLDER } from '../paths.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;
/** `$client` is the postgres.js client underneath, for what Drizzle does not wrap (COPY). */
export type Db = PostgresJsDatabase<Schema> & { $client: postgres.Sql };
/** A transaction handle; query functions accept `Db | Tx` and work inside or outside a transaction. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export { MIGRATIONS_FOLDER };

export interface DbOptions {
  url: string;
  /** Connections in the pool. */
  max?: number;
  /** Application name shown in pg_stat_activity. */
  applicationName?: string;
}

export function createDb(options: DbOptions): { db: Db; sql: postgres.Sql; close: () => Promise<void> } {
  const client = postgres(options.url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? 'ptpass' },
    // Large batch chunks must not be cut by a client-side timeout; PostgreSQL's own timeouts apply.
    idle_timeout: 30,
    connect_timeout: 10,
    // After the server went away, reconnect within a second of it answering again. The driver's default
    // grows with every refused attempt up to 20 s, which after a 30 s outage leaves the pool idle for long
    // after the database is back.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
  });
  const db = drizzle(client, { schema });
  return { db, sql: client, close: () => client.end({ timeout: 5 }) };
}

/**
 * Applies the committed SQL migrations under `drizzle/` on a dedicated connection that holds a session
 * advisory lock, so a worker and a CLI command starting together do not migrate twice.
 */
export async function migrateDatabase(options: DbOptions): Promise<void> {
  const { db, close } = createDb({ ...options, max: 1, applicationName: 'ptpass-migrate' });
  try {
    await db.execute(sql`SELECT pg_advisory_lock(7346221)`);
    await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
    await db.execute(sql`SELECT pg_advisory_unlock(7346221)`);
  } finally {
    await close();
  }
}
