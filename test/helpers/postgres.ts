import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import postgres from 'postgres';

/** The server tests create their databases on. Trust auth on this machine; override with TEST_DATABASE_URL. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function canConnect(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Starts the local Debian PostgreSQL cluster when it is down (the machine's documented command). */
export async function ensurePostgres(): Promise<void> {
  if (await canConnect(ADMIN_URL)) return;
  let versions: string[] = [];
  try {
    versions = readdirSync('/etc/postgresql');
  } catch {
    throw new Error(
      `PostgreSQL is not reachable at ${ADMIN_URL} and there is no local cluster to start; set TEST_DATABASE_URL`,
    );
  }
  for (const version of versions) {
    try {
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
        stdio: 'inherit',
      });
    } catch {
      // Already running or another version; checked below.
    }
  }
  for (let i = 0; i < 30; i++) {
    if (await canConnect(ADMIN_URL)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`PostgreSQL did not come up at ${ADMIN_URL}`);
}

/** URL of another database on the same server. */
export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
