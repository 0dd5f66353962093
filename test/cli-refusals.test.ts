import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { positionalArity } from '../src/cli/command.ts';
import { COMMANDS } from '../src/cli/commands/index.ts';
import { imports } from '../src/db/schema.ts';
import { ptpass } from './helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { seedGroup, seedPackage, seedUser } from './helpers/seed.ts';
import { connectTemporal, type TemporalTestContext, temporalAddress } from './helpers/temporal.ts';

/**
 * Every malformed `ptpass` input is refused before anything runs: exit 2, one line naming the flag and the
 * problem, not a row changed in any table and nothing started in Temporal.
 */

let database: TestDatabase;
let temporal: TemporalTestContext;
let env: NodeJS.ProcessEnv;
let group: number;
let pkg: number;
let importId: number;

beforeAll(async () => {
  database = await createTestDatabase('cli_refusals');
  temporal = await connectTemporal('cli-refusals');
  env = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: temporal.taskQueue,
    ADMIN_PASSWORD: 'a-long-enough-password',
  };
  const user = await seedUser(database.db);
  pkg = await seedPackage(database.db);
  group = await seedGroup(database.db, [user]);
  const [staged] = await database.db
    .insert(imports)
    .values({ kind: 'members', fileName: 'members.csv', columnCount: 2 })
    .returning({ id: imports.id });
  importId = staged!.id;
});
afterAll(async () => {
  await temporal?.close();
  await database?.drop();
});

async function rowCounts(): Promise<Record<string, number>> {
  const tables = await database.db.execute<{ schema: string; name: string }>(
    sql`SELECT schemaname AS schema, tablename AS name FROM pg_tables WHERE schemaname IN ('public', 'drizzle') ORDER BY 1, 2`,
  );
  const counts: Record<string, number> = {};
  for (const { schema, name } of tables) {
    const [row] = await database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM ${sql.identifier(schema)}.${sql.identifier(name)}`,
    );
    counts[`${schema}.${name}`] = row!.n;
  }
  return counts;
}

async function workflowsOnQueue(): Promise<number> {
  const { count } = await temporal.client.workflow.count(`TaskQueue = '${temporal.taskQueue}'`);
  return count;
}

const UUID = '00000000-0000-4000-8000-000000000000';
const LONG = 'x'.repeat(120 * 1024);

/** The cases an operator reported, and each rule of the command framework. */
const reported = (): Array<[string[], RegExp]> => [
  [
    ['grant', '--package', String(pkg), '--group', String(group), '--count', '99999999999'],
    /--count must be a whole number from 1 to 2147483647 \(got '99999999999'\)$/,
  ],
  [
    ['grant', '--package', String(pkg), '--group', String(group), '--count', '-5'],
    /--count must be a whole number from 1 to 2147483647 \(got '-5'\)$/,
  ],
  [
    ['grant', '--package', String(pkg), '--group', String(group), '--count', '0'],
    /--count must be a whole number from 1/,
  ],
  [
    ['grant', '--package', '99999999999999999999', '--group', String(group)],
    /--package '99999999999999999999' is not an ID/,
  ],
  [['job', 'list', 'x'], /^ptpass job list: unexpected argument 'x'/],
  [['schedules', 'apply', 'x'], /^ptpass schedules apply: unexpected argument 'x'/],
  [['schedules', 'list', 'x'], /^ptpass schedules list: unexpected argument 'x'/],
  [['db', 'migrate', 'x'], /^ptpass db migrate: unexpected argument 'x'/],
  [['stats', 'show', 'x'], /^ptpass stats show: unexpected argument 'x'/],
  [['runs', 'list', 'x'], /^ptpass runs list: unexpected argument 'x'/],
  [['runs', 'list', '--job', 'nosuchjob'], /--job 'nosuchjob' is not one of pass-lifecycle/],
  [['runs', 'list', '--job', 'pass-lifecycel'], /did you mean 'pass-lifecycle'\?\)$/],
  [['runs', 'list', '--limit', '-3'], /--limit must be a whole number from 1 to 1000 \(got '-3'\)/],
  [['notifications', 'list', '--event', 'x'], /--event 'x' is not one of class-reminder, pass-expiry/],
  [['notifications', 'retry', '--all-failed', '--event', 'bogus'], /--event 'bogus' is not one of/],
  [['notifications', 'retry', UUID], new RegExp(`no notification ${UUID}`)],
  [['notifications', 'retry', 'not-an-id'], /'not-an-id' is not a notification ID/],
  [['runs', 'show', UUID], new RegExp(`no run ${UUID}`)],
  // An unknown run is bad input for every runs command: one line, exit 2, no progress line, nothing sent.
  [
    ['runs', 'restart', UUID],
    new RegExp(`^ptpass runs restart: no run ${UUID} \\(see \`ptpass runs list\`\\)$`),
  ],
  [['runs', 'restart', UUID, '--wait'], new RegExp(`^ptpass runs restart: no run ${UUID} `)],
  [['runs', 'stop', UUID], new RegExp(`^ptpass runs stop: no run ${UUID} \\(see \`ptpass runs list\`\\)$`)],
  // A flag given twice would silently take its last value.
  [
    ['grant', '--package', String(pkg), '--package', '999', '--group', String(group)],
    /^ptpass grant: --package is given twice$/,
  ],
  [['runs', 'list', '--limit', '5', '--limit=6'], /^ptpass runs list: --limit is given twice$/],
  [
    ['job', 'run', 'pass-lifecycle', '--param', 'x=1', '--param', 'x=2'],
    /^ptpass job run: --param x is given twice$/,
  ],
  [
    ['import', 'rejects', String(importId), '--out', '/nonexistent/rejects.csv'],
    /^ptpass import rejects: cannot write \/nonexistent\/rejects.csv: ENOENT$/,
  ],
  [['runs', 'show', 'a', 'b'], /^ptpass runs show: unexpected argument 'b'/],
  [
    ['schedules', 'pause', 'pass-lifecycle', '--note', LONG],
    /--note is too long \(122880 characters; at most 4096\)$/,
  ],
  [['schedules', 'pause', 'a', 'b'], /unexpected argument 'b'/],
  [['job', 'runn'], /^ptpass: unknown command 'job runn'; did you mean 'ptpass job run'\?$/],
  [['shedules', 'list'], /did you mean 'ptpass schedules list'\?$/],
  [['job', 'run', 'pass-lifecycle', '--param', 'x'], /--param 'x' must be KEY=VALUE/],
];

/** Every subcommand: an unknown flag, an argument too many, an over-long value. */
const everySubcommand = (): Array<[string[], RegExp]> =>
  COMMANDS.flatMap((command) => {
    const cases: Array<[string[], RegExp]> = [
      [[...command.words, '--no-such-flag'], /Unknown option '--no-such-flag'$/],
    ];
    const { max, names } = positionalArity(command.args);
    if (Number.isFinite(max)) {
      const args = [...names.map((_, i) => `arg${i}`), 'one-too-many'];
      // The command's own check (e.g. "unknown job 'arg0'") may come first; both refuse with exit 2.
      cases.push([[...command.words, ...args], /unexpected argument 'one-too-many'|'arg0'/]);
    }
    const stringOption = Object.entries(command.options).find(([, spec]) => spec.type === 'string');
    if (stringOption) cases.push([[...command.words, `--${stringOption[0]}`, LONG], /is too long/]);
    return cases;
  });

it('every malformed input exits 2 with one line, changes no row and starts nothing in Temporal', async () => {
  const before = await rowCounts();
  const workflowsBefore = await workflowsOnQueue();
  for (const [args, message] of [...reported(), ...everySubcommand()]) {
    const shown = args.map((a) => (a.length > 40 ? `${a.slice(0, 10)}…` : a)).join(' ');
    const run = await ptpass(args, env);
    expect(run.code, shown).toBe(2);
    expect(run.stderr.trim().split('\n'), shown).toHaveLength(1);
    expect(run.stderr.trim(), shown).toMatch(message);
    expect(run.stdout, shown).toBe('');
  }
  expect(await rowCounts()).toEqual(before);
  expect(await workflowsOnQueue()).toBe(workflowsBefore);
});
