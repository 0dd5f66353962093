import { expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';

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

it('the level filters lines', () => {
  const { logger, records } = capture('info');
  logger.debug('hidden');
  logger.info('shown');
  expect(records().map((r) => r.msg)).toEqual(['shown']);
});
