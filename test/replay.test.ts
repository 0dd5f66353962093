import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../src/worker/create-worker.ts';
import { quietBundlerLogger } from './helpers/temporal.ts';

/**
 * Runs begun before a deploy are finished by the new workers: the workflow code must replay their
 * histories. Each file in test/fixtures/histories is the history of a run of an earlier version (named
 * for the change it predates), recorded from a real run; the current code replays it without a
 * nondeterminism error.
 */
const DIR = join(import.meta.dirname, 'fixtures', 'histories');
const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.json'));

let bundle: Awaited<ReturnType<typeof bundleWorkflowCode>>;
beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
});

describe('histories of earlier versions replay on the current workflow code', () => {
  it('has histories to replay', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });
  it.each(fixtures)('%s', async (file) => {
    // The SDK's own JSON reader (historyFromJSON) fails here on two protobufjs versions in the install;
    // the history message reads the same JSON (enum names, 64-bit numbers as strings) as well.
    const history = temporal.api.history.v1.History.fromObject(
      JSON.parse(readFileSync(join(DIR, file), 'utf8')),
    );
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle }, history, file.replace(/\.json$/, '')),
    ).resolves.toBeUndefined();
  });
});
