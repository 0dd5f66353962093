#!/usr/bin/env -S node --import tsx
/** `ptpass`: the command line for operators and studio staff. See `ptpass --help`. */
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);

// `ptpass` and `ptpass --help` print the command list, which `npm run build` renders next to the compiled
// entrypoint (cli-help.txt, see src/cli/write-help.ts): no command module needs to load for it.
const prebuiltHelp =
  argv.length === 0 || (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h'))
    ? readPrebuiltHelp()
    : undefined;

if (prebuiltHelp !== undefined) {
  process.stdout.write(prebuiltHelp);
  process.exitCode = argv.length === 0 ? 2 : 0;
} else {
  const { runCli } = await import('./src/cli/run-cli.ts');
  await runCli(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ptpass: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

function readPrebuiltHelp(): string | undefined {
  try {
    return readFileSync(new URL('./cli-help.txt', import.meta.url), 'utf8');
  } catch {
    return undefined; // Run from source: the help is rendered by runCli.
  }
}
