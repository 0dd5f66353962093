/**
 * Provisions what the tests and `npm start` need and cannot get from npm: the Temporal CLI (see
 * src/stack/temporal-cli.ts for the order it tries). Run by `npm test` (pretest) and `.ci/run`.
 */
import { ensureTemporalCli } from '../src/stack/temporal-cli.ts';

// The tests run the `temporal` binary itself, so build it rather than rely on the SDK's download.
const cli = await ensureTemporalCli({
  explicit: process.env.TEMPORAL_CLI || undefined,
  preferDownload: false,
});
process.stderr.write(
  cli
    ? `Temporal CLI: ${cli.path} (${cli.source})\n`
    : 'Temporal CLI: none; the SDK download will be tried\n',
);
