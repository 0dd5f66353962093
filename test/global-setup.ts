import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/stack/embedded-postgres.ts';
import { devServerExecutable, ensureTemporalCli } from '../src/stack/temporal-cli.ts';
import { PTPASS_SEARCH_ATTRIBUTES } from '../src/workflows/search-attributes.ts';
import { freePort } from './helpers/cli.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCli: string;
    /** The PostgreSQL server's maintenance database; test files create their own databases there. */
    postgresAdminUrl: string;
  }
}

let env: TestWorkflowEnvironment | undefined;
let embedded: { server: EmbeddedPostgres; dir: string } | undefined;

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/** One real PostgreSQL and one real Temporal dev server for the whole run. */
export async function setup(project: TestProject): Promise<void> {
  project.provide('postgresAdminUrl', await testPostgres());
  const cli = await ensureTemporalCli({ explicit: process.env.TEMPORAL_CLI, preferDownload: false });
  if (!cli)
    throw new Error('tests need the Temporal CLI: install Go (go install builds it) or set TEMPORAL_CLI');
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: devServerExecutable(cli),
      ip: '127.0.0.1',
      // Search attributes the tests and schedules rely on exist in the dev server by default.
      extraArgs: [
        '--dynamic-config-value',
        'frontend.enableUpdateWorkflowExecution=true',
        '--log-level',
        'error',
      ],
      searchAttributes: [...PTPASS_SEARCH_ATTRIBUTES],
    },
  });
  project.provide('temporalAddress', env.connection.options.address ?? '');
  project.provide('temporalCli', cli.path);
}

export async function teardown(): Promise<void> {
  await env?.teardown();
  if (embedded) {
    await embedded.server.stop();
    rmSync(embedded.dir, { recursive: true, force: true });
  }
}

/**
 * TEST_DATABASE_URL when set; otherwise the PostgreSQL on 127.0.0.1:5432 when it answers; otherwise (or
 * with PTPASS_TEST_DB=embedded) an embedded PostgreSQL started for this run in a temporary directory.
 */
async function testPostgres(): Promise<string> {
  const explicit = process.env.TEST_DATABASE_URL;
  const mode = process.env.PTPASS_TEST_DB ?? '';
  if (!['', 'embedded'].includes(mode))
    throw new Error(`PTPASS_TEST_DB must be 'embedded' or unset (got '${mode}')`);
  if (mode !== 'embedded') {
    if (explicit) {
      if (!(await canConnect(explicit))) throw new Error(`TEST_DATABASE_URL is not reachable: ${explicit}`);
      return explicit;
    }
    if (await canConnect(LOCAL_POSTGRES)) return LOCAL_POSTGRES;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ptpass-test-pg-'));
  // As root the server runs as the postgres user, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  const server = await startEmbeddedPostgres({
    dataDir: join(dir, 'data'),
    port: await freePort(),
    database: 'postgres',
    // A throw-away cluster: durability across an OS crash is not what the tests are about.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200' },
  });
  embedded = { server, dir };
  process.stderr.write(`tests use an embedded PostgreSQL 17 on ${server.adminUrl}\n`);
  return server.adminUrl;
}

async function canConnect(url: string): Promise<boolean> {
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
