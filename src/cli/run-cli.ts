import type { Client } from '@temporalio/client';
import {
  type Config,
  ConfigError,
  loadConfig,
  resolveDatabaseUrl,
  resolveTemporalAddress,
} from '../config.ts';
import type { Db } from '../db/client.ts';
import { describeDatabaseError } from '../db/errors.ts';
import { explainUnavailable, temporalCause } from '../unavailable.ts';
import {
  type CliContext,
  type Command,
  closest,
  commandUsage,
  parseCommandArgs,
  UsageError,
} from './command.ts';
import { COMMANDS } from './commands/index.ts';

/** Something outside ptpass is not reachable (database, Temporal): one line, exit 1. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env?: NodeJS.ProcessEnv;
}

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

function findCommand(argv: string[]): { command?: Command; rest: string[]; prefix: string[] } {
  const words = argv.filter((a) => !a.startsWith('-'));
  let best: Command | undefined;
  for (const command of COMMANDS) {
    if (command.words.every((w, i) => words[i] === w) && (!best || command.words.length > best.words.length))
      best = command;
  }
  if (!best) return { rest: argv, prefix: words.slice(0, 1) };
  const rest = [...argv];
  for (const word of best.words) rest.splice(rest.indexOf(word), 1);
  return { command: best, rest, prefix: best.words };
}

export function topLevelHelp(prefix: string[] = []): string {
  const shown = COMMANDS.filter((c) => prefix.every((w, i) => c.words[i] === w));
  const list = shown.length ? shown : COMMANDS;
  const rows = list.map((c) => [`ptpass ${[...c.words, c.args].filter(Boolean).join(' ')}`, c.summary]);
  const width = Math.max(...rows.map(([l]) => l!.length));
  return [
    'ptpass — batch jobs for PT and fitness studios on Temporal and PostgreSQL',
    '',
    'Commands:',
    ...rows.map(([l, r]) => `  ${l!.padEnd(width)}  ${r}`),
    '',
    'Every command takes --help and --json. Configuration comes from the environment (README "Configuration").',
  ].join('\n');
}

/** Runs one `ptpass` invocation and returns its exit code. */
export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const { command, rest, prefix } = findCommand(argv);
  const json = argv.includes('--json');
  const fail = (code: number, where: string, message: string) => {
    if (json) io.stdout(`${JSON.stringify({ error: message })}\n`);
    io.stderr(`${where}: ${message}\n`);
    return code;
  };
  if (!command) {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
      io.stdout(
        `${topLevelHelp(prefix.length && COMMANDS.some((c) => c.words[0] === prefix[0]) ? prefix : [])}\n`,
      );
      return argv.length === 0 ? 2 : 0;
    }
    return fail(2, 'ptpass', unknownCommand(argv));
  }
  const where = `ptpass ${command.words.join(' ')}`;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${commandUsage(command)}\n`);
    return 0;
  }

  let config: Config;
  try {
    config = loadConfig(io.env ?? process.env);
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, where, err.message);
    throw err;
  }

  const resources: Array<() => Promise<void>> = [];
  let client: Promise<Client> | undefined;
  let db: Promise<Db> | undefined;
  const ctx: CliContext = {
    config,
    progress: (line) => io.stderr(`${line}\n`),
    stdout: (text) => io.stdout(text),
    temporal: () => {
      client ??= (async () => {
        const address = resolveTemporalAddress(config);
        // Loaded here, not at the top: most commands never talk to Temporal, and the client is heavy.
        const { Client, Connection } = await import('@temporalio/client');
        try {
          const connection = await Connection.connect({ address, connectTimeout: '5 seconds' });
          resources.push(() => connection.close());
          return new Client({ connection, namespace: config.namespace });
        } catch (err) {
          throw new UnavailableError(
            `TEMPORAL_ADDRESS: cannot reach Temporal at ${address} (${err instanceof Error ? temporalCause(err) : String(err)}); is \`npm start\` running?`,
          );
        }
      })();
      return client;
    },
    db: () => {
      db ??= (async () => {
        const database = resolveDatabaseUrl(config);
        const { createDb } = await import('../db/client.ts');
        const handle = createDb({
          url: database.url,
          max: 4,
          applicationName: 'ptpass-cli',
        });
        resources.push(handle.close);
        try {
          await handle.sql`select 1`;
        } catch (err) {
          throw new UnavailableError(
            database.embedded
              ? `cannot reach the embedded database at 127.0.0.1:${config.dbPort} (${describeDatabaseError(err)}); start the stack with \`npm start\` or set DATABASE_URL`
              : (explainUnavailable(err, { databaseUrl: database.url }) ?? firstLine(err)),
          );
        }
        return handle.db;
      })();
      return db;
    },
  };

  try {
    const input = parseCommandArgs(command, rest);
    const output = await command.run(input, ctx);
    if (output) io.stdout(`${json ? JSON.stringify(output.json, null, 2) : output.text}\n`);
    return output?.exitCode ?? 0;
  } catch (err) {
    if (err instanceof UsageError) return fail(2, where, err.message);
    if (err instanceof UnavailableError) return fail(1, where, err.message);
    const outside = explainUnavailable(err, {
      databaseUrl: config.databaseUrl,
      temporalAddress: resolveTemporalAddress(config),
    });
    return fail(1, where, outside ?? firstLine(err));
  } finally {
    for (const close of resources.reverse()) await close().catch(() => {});
  }
}

/** Why no command matched, with the nearest command when the words look like a typo (`job runn`). */
function unknownCommand(argv: string[]): string {
  const words = argv.filter((a) => !a.startsWith('-'));
  const [first, second] = words;
  const group = COMMANDS.filter((c) => c.words[0] === first);
  if (group.length) {
    const subcommands = group.map((c) => c.words.slice(1).join(' ')).filter(Boolean);
    if (second === undefined)
      return `'${first}' needs a subcommand (${subcommands.join(', ')}); see ptpass ${first} --help`;
    const near = closest(second, subcommands);
    return `unknown command '${first} ${second}'${near ? `; did you mean 'ptpass ${first} ${near}'?` : `; ptpass ${first} takes ${subcommands.join(', ')}`}`;
  }
  const near =
    closest(
      [first, second].filter(Boolean).join(' '),
      COMMANDS.map((c) => c.words.join(' ')),
    ) ?? closest(first ?? '', [...new Set(COMMANDS.map((c) => c.words[0]!))]);
  return `unknown command '${first ?? argv[0]}'${near ? `; did you mean 'ptpass ${near}'?` : '; see ptpass --help'}`;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
