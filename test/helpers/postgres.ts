import { inject } from 'vitest';

/**
 * The server tests create their databases on, chosen once per run by test/global-setup.ts:
 * TEST_DATABASE_URL, else PostgreSQL on 127.0.0.1:5432 when it answers, else (or with
 * PTPASS_TEST_DB=embedded) an embedded PostgreSQL started for the run.
 */
export function adminUrl(): string {
  return inject('postgresAdminUrl');
}

/** URL of another database on the same server. */
export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}
