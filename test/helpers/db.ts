import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createDb, type Db, migrateDatabase } from '../../src/db/client.ts';
import { adminUrl, databaseUrl } from './postgres.ts';

export interface TestDatabase {
  name: string;
  url: string;
  db: Db;
  sql: postgres.Sql;
  /** Drops the database (and closes connections). */
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `ptpass_t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(3).toString('hex')}`;
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(name);
  await migrateDatabase({ url });
  const { db, sql, close } = createDb({ url, max: 8, applicationName: 'ptpass-test' });
  return {
    name,
    url,
    db,
    sql,
    async drop() {
      await close();
      const a = postgres(adminUrl(), { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
