/**
 * Provisions what the tests and `npm start` need and cannot get from npm: the Temporal CLI (see
 * src/stack/temporal-cli.ts for the order it tries). Run by `npm test` (pretest) and `.ci/run`.
 */
import { ensureTemporalCli } from '../src/stack/temporal-cli.ts';

const cli = await ensureTemporalCli({ explicit: process.env.TEMPORAL_CLI || undefined });
process.stderr.write(
  cli
    ? `Temporal CLI: ${cli.path} (${cli.source})\n`
    : 'Temporal CLI: none; the SDK download will be tried\n',
);
