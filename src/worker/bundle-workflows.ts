/**
 * Bundles the workflows and writes the bundle to the file given as the first argument. Run as a child
 * process by the worker (see create-worker.ts), so webpack's peak memory (~250 MB) is never part of the
 * long-running worker's resident set.
 */
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from './workflows-path.ts';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: bundle-workflows.ts <output file>\n');
  process.exit(2);
}
const silent = () => {};
const { code } = await bundleWorkflowCode({
  workflowsPath: WORKFLOWS_PATH,
  logger: {
    log: silent,
    trace: silent,
    debug: silent,
    info: silent,
    warn: silent,
    error: (m: string) => process.stderr.write(`${m}\n`),
  },
});
writeFileSync(out, code);
