#!/usr/bin/env -S node --import tsx
/** `ptpass`: the command line for operators and studio staff. See `ptpass --help`. */
import { runCli } from './src/cli/run-cli.ts';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ptpass: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
