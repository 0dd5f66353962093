import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { users } from '../src/db/schema.ts';
import { describeCauses } from '../src/jobs/errors.ts';
import { createLogger } from '../src/logger.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase('logger');
});
afterAll(async () => {
  await database.drop();
});

/** What an operator needs from a log line survives; secrets and personal fields do not. */

function capture(level: 'debug' | 'info' = 'info') {
  const lines: string[] = [];
  const logger = createLogger(level, { service: 'test' }, (line) => lines.push(line));
  return { logger, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

it('an error keeps its type, message, stack and cause chain', () => {
  const { logger, records } = capture();
  const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const wrapped = new Error('Failed query: select 1', { cause: root });
  logger.error('step failed', { error: wrapped, jobRunId: 'r1' });
  const [record] = records();
  expect(record).toMatchObject({ level: 'error', msg: 'step failed', service: 'test', jobRunId: 'r1' });
  expect(record!.error).toMatchObject({
    type: 'Error',
    message: 'Failed query: select 1',
    stack: expect.stringContaining('logger.test.ts'),
    cause: { type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' },
  });
});

it('secrets and personal fields are redacted, URL passwords masked', () => {
  const { logger, records } = capture();
  logger.child({ job: 'class-reminders' }).warn('delivery to postgres://app:hunter2@db/ptpass failed', {
    name: 'Kim Minji',
    phone: '010-1234-5678',
    token: 'abc',
    ADMIN_PASSWORD: 'correct horse',
    databaseUrl: 'postgres://app:hunter2@db/ptpass',
    target: 'postgres://app:hunter2@db/ptpass',
    recipient: { userId: 7, phone: '010-1234-5678' },
  });
  const [record] = records();
  const text = JSON.stringify(record);
  for (const secret of ['Kim Minji', '010-1234-5678', 'abc', 'correct horse', 'hunter2'])
    expect(text).not.toContain(secret);
  expect(record).toMatchObject({
    job: 'class-reminders',
    name: '[redacted]',
    target: 'postgres://app:***@db/ptpass',
    recipient: { userId: 7, phone: '[redacted]' },
    msg: 'delivery to postgres://app:***@db/ptpass failed',
  });
});

it("a failed query's values stay out of the line: its parameters, PostgreSQL's detail and a refused value", async () => {
  const { logger, records } = capture();
  const failures: unknown[] = [];
  // Real PostgreSQL errors: a value its type refuses (quoted in the message), a duplicate key (in `detail`).
  await database.db
    // A parameter with a newline: all up to the stack's first frame is the parameters.
    .execute(sql`SELECT ${'Kim\nMinji'}::text, ${'010-1234-5678'}::int`)
    .catch((e) => failures.push(e));
  await database.db.insert(users).values({ name: 'Lee Jiwoo', externalId: 'x-1', phone: '010-5555-6666' });
  await database.db
    .insert(users)
    .values({ name: 'Lee Jiwoo', externalId: 'x-1', phone: '010-5555-6666' })
    .catch((e) => failures.push(e));
  expect(failures).toHaveLength(2);
  for (const error of failures) logger.error('API request failed', { error });
  logger.error('step failed', { err: failures[1] });
  const text = JSON.stringify(records());
  for (const personal of ['Minji', '010-1234-5678', 'Lee Jiwoo', '010-5555-6666', 'x-1'])
    expect(text).not.toContain(personal);
  // What an operator needs stays: the statement, the error, its code and constraint.
  const [refused, duplicate] = records();
  expect(refused!.error).toMatchObject({
    message: expect.stringMatching(/^Failed query: SELECT \$1::text, \$2::int\nparams: \[redacted\]$/),
    cause: { code: '22P02', message: 'invalid input syntax for type integer: "[redacted]"' },
  });
  // A run's error (record, memo, log line, alert) keeps the message, not the refused value.
  expect(describeCauses(failures[0])).toBe(
    'invalid input syntax for type integer: [redacted] ← Failed query: SELECT $1::text, $2::int',
  );
  expect(duplicate!.error).toMatchObject({
    cause: { code: '23505', detail: '[redacted]', constraint_name: expect.any(String) },
  });
});

it('the level filters lines', () => {
  const { logger, records } = capture('info');
  logger.debug('hidden');
  logger.info('shown');
  expect(records().map((r) => r.msg)).toEqual(['shown']);
});
