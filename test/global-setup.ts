import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { devServerExecutable, ensureTemporalCli } from '../src/stack/temporal-cli.ts';
import { PTPASS_SEARCH_ATTRIBUTES } from '../src/workflows/search-attributes.ts';
import { ensurePostgres } from './helpers/postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCli: string;
  }
}

let env: TestWorkflowEnvironment | undefined;

/** One real PostgreSQL (started if down) and one real Temporal dev server for the whole run. */
export async function setup(project: TestProject): Promise<void> {
  await ensurePostgres();
  const cli = await ensureTemporalCli({ explicit: process.env.TEMPORAL_CLI });
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
}
