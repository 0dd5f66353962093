import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiToken } from '../src/db/queries/api-tokens.ts';
import type { JobResult } from '../src/jobs/index.ts';
import { type AdminStack, startAdminStack } from './helpers/admin.ts';

let stack: AdminStack;
let write: string;
let read: string;

beforeAll(async () => {
  stack = await startAdminStack('api_imports');
  write = (await createApiToken(stack.database.db, { name: 'importer', scope: 'write' })).token;
  read = (await createApiToken(stack.database.db, { name: 'reader', scope: 'read' })).token;
});
afterAll(async () => {
  await stack?.close();
});

const api = (path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(`${stack.admin.url}/api/v1${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${init.token ?? write}`, ...(init.headers ?? {}) },
  });

const upload = (
  kind: string,
  csv: string | Uint8Array,
  headers: Record<string, string> = {},
  token?: string,
) =>
  api(`/imports/${kind}?fileName=members.csv`, {
    method: 'POST',
    body: csv,
    headers: { 'Content-Type': 'text/csv', ...headers },
    token,
  });

const counts = async () => {
  const [row] = await stack.database.db.execute<{ users: number; imports: number; runs: number }>(sql`
    SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM imports)::int AS imports,
           (SELECT count(*) FROM job_runs)::int AS runs`);
  return row!;
};

const CSV = '\uFEFFexternal_id,name,phone\r\nm1,김민수,010-1234-5678\r\nm2,,\r\nm3,Lee,\r\n';

it('POST /imports/members stages the upload and starts its job; the rejects come back as CSV', async () => {
  const response = await upload('members', CSV, { 'Idempotency-Key': 'upload-1' });
  expect(response.status).toBe(202);
  const body = (await response.json()) as {
    importId: number;
    rows: number;
    workflowId: string;
    runId: string;
  };
  expect(body).toMatchObject({ kind: 'members', fileName: 'members.csv', rows: 3 });
  const result = (await stack.client.workflow.getHandle(body.workflowId).result()) as JobResult;
  expect(result).toMatchObject({ read: 3, written: 2, skipped: 1 });
  const members = await stack.database.db.execute<{ external_id: string; name: string }>(
    sql`SELECT external_id, name FROM users ORDER BY external_id`,
  );
  expect(members.map((m) => [m.external_id, m.name])).toEqual([
    ['m1', '김민수'],
    ['m3', 'Lee'],
  ]);

  // The same key and body: the first response, and nothing staged or started again.
  const before = await counts();
  const replay = await upload('members', CSV, { 'Idempotency-Key': 'upload-1' });
  expect(replay.status).toBe(202);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(await replay.json()).toEqual(body);
  expect(await counts()).toEqual(before);
  // The same key with another file: refused.
  const other = await upload('members', `${CSV}m4,Park,\r\n`, { 'Idempotency-Key': 'upload-1' });
  expect(other.status).toBe(422);
  expect(await counts()).toEqual(before);

  const state = await api(`/imports/${body.importId}`, { token: read });
  expect(state.status).toBe(200);
  expect(await state.json()).toMatchObject({ status: 'IMPORTED', rows: 3, written: 2, rejected: 1 });
  const rejects = await api(`/imports/${body.importId}/rejects`, { token: read });
  expect(rejects.status).toBe(200);
  expect(rejects.headers.get('content-type')).toContain('text/csv');
  expect(parse(await rejects.text(), { bom: true })).toEqual([
    ['line', 'reason', 'external_id', 'name', 'phone', 'status'],
    ['3', 'name is empty', 'm2', '', '', ''],
  ]);
});

it('refuses a file that cannot be imported, a read token and a missing token, writing nothing', async () => {
  const before = await counts();
  const wrong = await upload('members', 'id,name\n1,Kim\n');
  expect(wrong.status).toBe(400);
  expect(wrong.headers.get('content-type')).toContain('application/problem+json');
  expect(((await wrong.json()) as { detail: string }).detail).toMatch(/header: unknown column 'id'/);
  const notUtf8 = await upload(
    'members',
    new Uint8Array(Buffer.from('external_id,name\nx,\xb1\xe8\n', 'latin1')),
  );
  expect(notUtf8.status).toBe(400);
  expect(((await notUtf8.json()) as { detail: string }).detail).toMatch(/not UTF-8/);
  const empty = await upload('members', '');
  expect(empty.status).toBe(400);
  const kind = await upload('passes', CSV);
  expect(kind.status).toBe(400);
  const readOnly = await upload('members', CSV, {}, read);
  expect(readOnly.status).toBe(403);
  const anonymous = await fetch(`${stack.admin.url}/api/v1/imports/members`, { method: 'POST', body: CSV });
  expect(anonymous.status).toBe(401);
  expect((await api('/imports/999999/rejects')).status).toBe(404);
  expect(await counts()).toEqual(before);
});

it('refuses a body that is not text/csv with 415, naming the type, and writes nothing; text/csv with a charset is a CSV', async () => {
  const before = await counts();
  for (const type of ['application/json', 'application/octet-stream', 'text/plain', 'text/csvx', undefined]) {
    const response = await api('/imports/members', {
      method: 'POST',
      body: new Blob([CSV]),
      headers: type ? { 'Content-Type': type } : {},
    });
    expect(response.status, type).toBe(415);
    expect(response.headers.get('content-type'), type).toContain('application/problem+json');
    const problem = (await response.json()) as { status: number; detail: string };
    expect(problem.status, type).toBe(415);
    expect(problem.detail, type).toBe(
      `send the file as Content-Type: text/csv (got ${type ? `'${type}'` : 'none'}); nothing was written`,
    );
  }
  expect(await counts()).toEqual(before);
  const withCharset = await upload('members', CSV, { 'Content-Type': 'text/csv; charset=utf-8' });
  expect(withCharset.status).toBe(202);
  const started = (await withCharset.json()) as { workflowId: string };
  await stack.client.workflow.getHandle(started.workflowId).result();
});
