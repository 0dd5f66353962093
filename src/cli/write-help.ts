/**
 * Build step (`npm run build`): renders `ptpass --help` into dist/cli-help.txt beside the compiled
 * entrypoint, so the command list prints without loading any command module (client.ts).
 */
import { writeFileSync } from 'node:fs';
import { topLevelHelp } from './run-cli.ts';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: write-help <output file>\n');
  process.exit(2);
}
writeFileSync(out, `${topLevelHelp()}\n`);
