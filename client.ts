/** `ptpass`: the command line for operators and studio staff. See `ptpass --help`. */
import { readFileSync } from 'node:fs';

/**
 * `ptpass` and `ptpass --help` print the command list, which `npm run build` renders next to the compiled
 * entrypoint (cli-help.txt, see src/cli/write-help.ts): no command module needs to load for it. Run from
 * source there is no such file, and runCli renders the help itself.
 */
function prebuiltHelp(argv: string[]): string | undefined {
  const asksForHelp = argv.length === 0 || (argv.length === 1 && ['--help', '-h'].includes(argv[0]!));
  if (!asksForHelp) return undefined;
  try {
    return readFileSync(new URL('./cli-help.txt', import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const help = prebuiltHelp(argv);
  if (help !== undefined) {
    process.stdout.write(help);
    return argv.length === 0 ? 2 : 0;
  }
  const { runCli } = await import('./src/cli/run-cli.ts');
  return runCli(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`ptpass: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
