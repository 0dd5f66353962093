import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, revokeApiToken } from '../src/db/queries/api-tokens.ts';
import { JOB_NAMES } from '../src/jobs/index.ts';
import { type AdminStack, startAdminStack } from './helpers/admin.ts';
import { ptpass } from './helpers/cli.ts';
import { seedPackage, seedPass, seedUser } from './helpers/seed.ts';

/**
 * The HTTP API against the real admin server, database, worker and Temporal: every route's happy path, its
 * refusals (with row counts unchanged), auth and scope, idempotent replays, pagination, the last-session
 * booking race, and every real response checked against the OpenAPI document.
 */

let stack: AdminStack;
let base: string;
let writeToken: string;
let readToken: string;

interface Recorded {
  method: string;
  template: string;
  status: number;
  contentType: string;
  body: unknown;
}
const recorded: Recorded[] = [];

interface CallOptions {
  token?: string | null;
  body?: unknown;
  key?: string;
  params?: Record<string, string | number>;
  query?: Record<string, string | number>;
  headers?: Record<string, string>;
}

async function call(method: string, template: string, options: CallOptions = {}) {
  let path = template;
  for (const [name, value] of Object.entries(options.params ?? {}))
    path = path.replace(`{${name}}`, encodeURIComponent(String(value)));
  const query = options.query
    ? `?${new URLSearchParams(Object.entries(options.query).map(([k, v]): [string, string] => [k, String(v)]))}`
    : '';
  const token = options.token === undefined ? writeToken : options.token;
  const response = await fetch(`${base}${path}${query}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(options.key ? { 'Idempotency-Key': options.key } : {}),
      ...options.headers,
    },
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
  });
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!;
  const text = await response.text();
  const body = contentType.includes('json') && text ? JSON.parse(text) : text;
  recorded.push({ method: method.toLowerCase(), template, status: response.status, contentType, body });
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are checked field by field
  return { status: response.status, body: body as any, headers: response.headers, contentType };
}

async function rowCounts() {
  const rows = await stack.database.db.execute<Record<string, number>>(sql`SELECT
    (SELECT count(*)::int FROM users) AS users,
    (SELECT count(*)::int FROM user_groups) AS groups,
    (SELECT count(*)::int FROM user_group_members) AS group_members,
    (SELECT count(*)::int FROM packages) AS packages,
    (SELECT count(*)::int FROM passes) AS passes,
    (SELECT count(*)::int FROM bookings) AS bookings,
    (SELECT count(*)::int FROM bulk_passes) AS bulk_passes,
    (SELECT count(*)::int FROM api_writes) AS api_writes,
    (SELECT count(*)::int FROM api_idempotency_keys) AS idempotency_keys,
    (SELECT coalesce(sum(remaining_count), 0)::int FROM passes) AS remaining,
    (SELECT count(*) FILTER (WHERE status = 'CANCELLED')::int FROM bookings) AS cancelled`);
  return { ...rows[0] } as Record<string, number>;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

beforeAll(async () => {
  stack = await startAdminStack('api');
  base = `${stack.admin.url}/api/v1`;
  writeToken = (await createApiToken(stack.database.db, { name: 'front-desk', scope: 'write' })).token;
  readToken = (await createApiToken(stack.database.db, { name: 'reports', scope: 'read' })).token;
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('API auth', () => {
  it('refuses a missing, wrong or revoked token with 401 and a read token on a write with 403, writing nothing', async () => {
    const before = await rowCounts();
    const missing = await call('GET', '/members', { token: null });
    expect(missing.status).toBe(401);
    expect(missing.contentType).toBe('application/problem+json');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await call('GET', '/members', { token: 'ptp_wrongwrongwrongwrong' })).status).toBe(401);
    const revoked = await createApiToken(stack.database.db, { name: 'old', scope: 'write' });
    expect((await call('GET', '/members', { token: revoked.token })).status).toBe(200);
    await revokeApiToken(stack.database.db, revoked.id);
    const afterRevoke = await call('POST', '/members', { token: revoked.token, body: { name: 'Nope' } });
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.body.detail).toBe('the bearer token is wrong or revoked');
    const readOnly = await call('POST', '/members', { token: readToken, body: { name: 'Nope' } });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body).toMatchObject({ status: 403, title: 'Forbidden' });
    expect((await call('GET', '/members', { token: readToken })).status).toBe(200);
    expect(await rowCounts()).toEqual(before);
  });

  it('`ptpass tokens create` prints a token once, stores only its hash, and `revoke` ends it', async () => {
    const created = await ptpass(
      ['tokens', 'create', '--name', 'booking-app', '--scope', 'read', '--json'],
      stack.env,
    );
    expect(created.code).toBe(0);
    const { id, token } = JSON.parse(created.stdout) as { id: number; token: string };
    const stored = await stack.database.db.execute<{ token_hash: string }>(
      sql`SELECT token_hash FROM api_tokens WHERE id = ${id}`,
    );
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored[0]!.token_hash).not.toContain(token);
    expect((await call('GET', '/packages', { token })).status).toBe(200);
    const listed = await ptpass(['tokens', 'list'], stack.env);
    expect(listed.stdout).toContain('booking-app');
    expect(listed.stdout).not.toContain(token);
    expect((await ptpass(['tokens', 'revoke', String(id)], stack.env)).code).toBe(0);
    expect((await call('GET', '/packages', { token })).status).toBe(401);
    const bad = await ptpass(['tokens', 'create', '--name', 'x', '--scope', 'admin'], stack.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--scope must be read or write (got 'admin')");
  });
});

describe('API members and groups', () => {
  it('creates, reads, updates, lists and searches members, recording the token of every write', async () => {
    const created = await call('POST', '/members', { body: { name: 'Kim Minji', phone: '010-1234-5678' } });
    // The phone rule of the CSV import: digits, spaces and ( ) - . with an optional leading +.
    const dotted = await call('POST', '/members', {
      body: { name: 'Dot Phone', phone: '+82 (10) 1234.5678' },
    });
    expect(dotted.status).toBe(201);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Kim Minji', phone: '010-1234-5678', status: 'ACTIVE' });
    expect(created.body.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00$/);
    const id = created.body.id as number;
    const audit = await stack.database.db.execute<{ name: string; resource: string }>(sql`
      SELECT t.name, w.resource FROM api_writes w JOIN api_tokens t ON t.id = w.token_id
      WHERE w.resource = 'users' AND w.resource_id = ${String(id)}`);
    expect(audit).toEqual([{ name: 'front-desk', resource: 'users' }]);

    expect((await call('GET', '/members/{id}', { params: { id } })).body.name).toBe('Kim Minji');
    const updated = await call('PATCH', '/members/{id}', {
      params: { id },
      body: { status: 'INACTIVE', phone: null },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, status: 'INACTIVE', phone: null, name: 'Kim Minji' });
    const found = await call('GET', '/members', { query: { q: 'minji' } });
    expect(found.body.items.map((m: { id: number }) => m.id)).toEqual([id]);
    expect((await call('GET', '/members/{id}', { params: { id: 999999 } })).status).toBe(404);
    expect(
      (await call('PATCH', '/members/{id}', { params: { id: 999999 }, body: { name: 'X' } })).status,
    ).toBe(404);
  });

  it('pages through members with a cursor, never repeating or skipping one', async () => {
    for (let i = 0; i < 5; i++) await call('POST', '/members', { body: { name: `Page Member ${i}` } });
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await call('GET', '/members', {
        query: { q: 'Page Member', limit: 2, ...(cursor ? { cursor } : {}) },
      });
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((m: { id: number }) => m.id));
      cursor = page.body.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(5);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect((await call('GET', '/members', { query: { cursor: 'garbage!' } })).status).toBe(400);
  });

  it('refuses bad member input naming each field, and writes nothing', async () => {
    const before = await rowCounts();
    const bad = await call('POST', '/members', { body: { name: '', phone: 'call me', extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.contentType).toBe('application/problem+json');
    const fields = bad.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'phone']));
    // A NUL (PostgreSQL's text refuses it) or another control character is the field's problem, not a 500.
    for (const name of ['Park\u0000Jiwoo', 'Park\tJiwoo']) {
      const control = await call('POST', '/members', { body: { name, phone: '010-9999-8888' } });
      expect(control.status).toBe(400);
      expect(control.body.errors).toEqual([
        { field: 'name', message: 'must not contain control characters' },
      ]);
    }
    const malformed = await call('POST', '/members', { body: '{"name": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.contentType).toBe('application/problem+json');
    const empty = await call('PATCH', '/members/{id}', { params: { id: 1 }, body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toContain('give at least one of name, phone, status');
    expect((await call('GET', '/members/{id}', { params: { id: 'abc' } })).body.errors[0].field).toBe(
      'path.id',
    );
    expect(await rowCounts()).toEqual(before);
  });

  it('creates groups, adds and removes members; an unknown member writes nothing', async () => {
    const a = await seedUser(stack.database.db, 'Group A');
    const b = await seedUser(stack.database.db, 'Group B');
    const c = await seedUser(stack.database.db, 'Group C');
    const group = await call('POST', '/groups', { body: { name: 'Morning', memberIds: [b, a] } });
    expect(group.status).toBe(201);
    expect(group.body.memberIds).toEqual([a, b]);
    const added = await call('POST', '/groups/{id}/members', {
      params: { id: group.body.id },
      body: { memberIds: [c, a] },
    });
    expect(added.body.memberIds).toEqual([a, b, c]);
    const removed = await call('DELETE', '/groups/{id}/members/{memberId}', {
      params: { id: group.body.id, memberId: b },
    });
    expect(removed.status).toBe(200);
    expect(removed.body.memberIds).toEqual([a, c]);
    const before = await rowCounts();
    const unknown = await call('POST', '/groups', { body: { name: 'Ghosts', memberIds: [a, 999999] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ field: 'memberIds', message: 'no such member: 999999' }]);
    expect(
      (await call('POST', '/groups/{id}/members', { params: { id: 999999 }, body: { memberIds: [a] } }))
        .status,
    ).toBe(404);
    expect(
      (
        await call('DELETE', '/groups/{id}/members/{memberId}', {
          params: { id: group.body.id, memberId: b },
        })
      ).status,
    ).toBe(404);
    expect(await rowCounts()).toEqual(before);
  });
});

describe('API packages and passes', () => {
  it('creates and lists packages, issues a pass with the grant rules, and lists remaining, reserved and free', async () => {
    const pkg = await call('POST', '/packages', {
      body: { name: '10 sessions / 30 days', sessionCount: 10, periodDays: 30 },
    });
    expect(pkg.status).toBe(201);
    const unlimited = await call('POST', '/packages', {
      body: { name: 'Unlimited', sessionCount: null, periodDays: null },
    });
    const listed = await call('GET', '/packages', { query: { limit: 200 } });
    expect(listed.body.items.map((p: { id: number }) => p.id)).toEqual(
      expect.arrayContaining([pkg.body.id, unlimited.body.id]),
    );

    const member = (await call('POST', '/members', { body: { name: 'Pass Holder' } })).body.id as number;
    const pass = await call('POST', '/members/{id}/passes', {
      params: { id: member },
      body: { packageId: pkg.body.id, startedAt: '2026-03-01T00:00' },
    });
    expect(pass.status).toBe(201);
    // The package period, counted in business-zone days from a wall-clock start read in Asia/Seoul.
    expect(pass.body).toMatchObject({
      memberId: member,
      remaining: 10,
      reserved: 0,
      freeToBook: 10,
      startedAt: '2026-03-01T00:00:00+09:00',
      endedAt: '2026-03-31T00:00:00+09:00',
    });

    const inactive = await seedUser(stack.database.db, 'Lapsed', 'INACTIVE');
    const before = await rowCounts();
    const refusals: Array<[unknown, number, string]> = [
      [{ packageId: unlimited.body.id, count: 5 }, 400, 'count'],
      [{ packageId: pkg.body.id, count: 0 }, 400, 'count'],
      [{ packageId: pkg.body.id, startedAt: 'next tuesday' }, 400, 'startedAt'],
      [{ packageId: pkg.body.id, endedAt: '2020-01-01T00:00Z' }, 400, 'endedAt'],
      [{ packageId: 999999 }, 404, ''],
    ];
    for (const [body, status, field] of refusals) {
      const refused = await call('POST', '/members/{id}/passes', { params: { id: member }, body });
      expect(refused.status, JSON.stringify(body)).toBe(status);
      if (field) expect(refused.body.errors[0].field, JSON.stringify(body)).toBe(field);
    }
    const lapsed = await call('POST', '/members/{id}/passes', {
      params: { id: inactive },
      body: { packageId: pkg.body.id },
    });
    expect(lapsed.status).toBe(409);
    expect(lapsed.body.reason).toBe('member-inactive');
    expect(await rowCounts()).toEqual(before);

    const now = Date.now();
    const current = await call('POST', '/members/{id}/passes', {
      params: { id: member },
      body: { packageId: pkg.body.id, count: 3 },
    });
    expect(current.body).toMatchObject({ remaining: 3, freeToBook: 3 });
    const booking = await call('POST', '/bookings', {
      body: {
        memberId: member,
        passId: current.body.id,
        startedAt: new Date(now + 2 * DAY).toISOString(),
        endedAt: new Date(now + 2 * DAY + HOUR).toISOString(),
      },
    });
    expect(booking.status).toBe(201);
    const passes = await call('GET', '/members/{id}/passes', { params: { id: member } });
    expect(passes.body.items).toEqual([
      expect.objectContaining({ id: pass.body.id, remaining: 10, reserved: 0, freeToBook: 10 }),
      expect.objectContaining({ id: current.body.id, remaining: 3, reserved: 1, freeToBook: 2 }),
    ]);
    expect((await call('GET', '/members/{id}/passes', { params: { id: 999999 } })).status).toBe(404);
  });

  it('issues a pass whose start has come PROGRESSED and a later one READY, as `ptpass grant` does', async () => {
    const db = stack.database.db;
    const packageId = await seedPackage(db, 10, 30);
    const member = await seedUser(db, 'Status Holder');
    const issue = async (startedAt?: string) => {
      const response = await call('POST', '/members/{id}/passes', {
        params: { id: member },
        body: { packageId, ...(startedAt ? { startedAt } : {}) },
      });
      expect(response.status, startedAt).toBe(201);
      return response.body as { id: number; status: string };
    };
    const byDefault = await issue();
    const started = await issue(new Date(Date.now() - DAY).toISOString());
    const later = await issue(new Date(Date.now() + DAY).toISOString());
    expect([byDefault.status, started.status, later.status]).toEqual(['PROGRESSED', 'PROGRESSED', 'READY']);
    const rows = await db.execute<{ id: number; status: string }>(
      sql`SELECT id::int, status FROM passes WHERE user_id = ${member} ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: byDefault.id, status: 'PROGRESSED' },
      { id: started.id, status: 'PROGRESSED' },
      { id: later.id, status: 'READY' },
    ]);
    // The grant of the same package to the same member now: its issued pass has the same status.
    const grant = await ptpass(
      ['grant', '--package', String(packageId), '--users', String(member), '--wait', '--json'],
      stack.env,
    );
    expect(grant.code, grant.stderr).toBe(0);
    const granted = await db.execute<{ status: string }>(
      sql`SELECT status FROM passes WHERE user_id = ${member} AND bulk_pass_id IS NOT NULL`,
    );
    expect(granted).toEqual([{ status: byDefault.status }]);
  });

  it('refuses a time outside 2000-01-01 to 2100-12-31 on every route, naming the field, and writes nothing', async () => {
    const db = stack.database.db;
    const packageId = await seedPackage(db, 10, 30);
    const member = await seedUser(db, 'Far Future');
    const passId = await seedPass(db, {
      userId: member,
      packageId,
      startedAt: new Date(Date.now() - DAY),
      endedAt: new Date(Date.now() + 30 * DAY),
    });
    const outside = (text: string) =>
      `'${text}' must be a time from 2000-01-01 to 2100-12-31 (business days in Asia/Seoul)`;
    const before = await rowCounts();
    const refusals: Array<[string, string, unknown, Record<string, string | number>, string, string]> = [
      [
        'POST',
        '/members/{id}/passes',
        { packageId, startedAt: '9999-12-31T23:59' },
        { id: member },
        'startedAt',
        '9999-12-31T23:59',
      ],
      [
        'POST',
        '/members/{id}/passes',
        { packageId, endedAt: '2101-01-01T00:00' },
        { id: member },
        'endedAt',
        '2101-01-01T00:00',
      ],
      [
        'POST',
        '/members/{id}/passes',
        { packageId, startedAt: '1999-12-31T23:59' },
        { id: member },
        'startedAt',
        '1999-12-31T23:59',
      ],
      // The last second of 2100 in Seoul is 15:00 UTC that day; 15:00Z is 2101 there.
      [
        'POST',
        '/members/{id}/passes',
        { packageId, startedAt: '2100-12-31T15:00:00Z' },
        { id: member },
        'startedAt',
        '2100-12-31T15:00:00Z',
      ],
      [
        'POST',
        '/bookings',
        { memberId: member, passId, startedAt: '9999-12-31T10:00', endedAt: '9999-12-31T11:00' },
        {},
        'startedAt',
        '9999-12-31T10:00',
      ],
      [
        'POST',
        '/bulk-passes',
        { packageId, memberIds: [member], issueAt: '9999-01-01T00:00' },
        {},
        'issueAt',
        '9999-01-01T00:00',
      ],
      [
        'POST',
        '/jobs/{job}/runs',
        { asOf: '9999-12-31T23:59' },
        { job: 'pass-lifecycle' },
        'asOf',
        '9999-12-31T23:59',
      ],
    ];
    for (const [method, template, body, params, field, text] of refusals) {
      const refused = await call(method, template, { params, body });
      expect(refused.status, `${template} ${field}`).toBe(400);
      expect(refused.body.errors, `${template} ${field}`).toContainEqual({ field, message: outside(text) });
    }
    expect(await rowCounts()).toEqual(before);
    // The last day is in: a pass from its last minute gets the package's 30 days, in ISO-8601.
    const last = await call('POST', '/members/{id}/passes', {
      params: { id: member },
      body: { packageId, startedAt: '2100-12-31T23:59' },
    });
    expect(last.status).toBe(201);
    expect(last.body).toMatchObject({
      startedAt: '2100-12-31T23:59:00+09:00',
      endedAt: '2101-01-30T23:59:00+09:00',
    });
  });
});

describe('API bookings', () => {
  async function memberWithPass(remaining: number | null, startedAt = new Date(Date.now() - 10 * DAY)) {
    const db = stack.database.db;
    const userId = await seedUser(db, 'Booker');
    const packageId = await seedPackage(db, remaining, null);
    const passId = await seedPass(db, {
      userId,
      packageId,
      remainingCount: remaining,
      startedAt,
      endedAt: new Date(Date.now() + 30 * DAY),
    });
    return { userId, passId };
  }
  const classAt = (offsetMs: number) => ({
    startedAt: new Date(Date.now() + offsetMs).toISOString(),
    endedAt: new Date(Date.now() + offsetMs + HOUR).toISOString(),
  });

  it('books, refuses with a reason (another member’s pass, outside its validity, no free session), and writes nothing on a refusal', async () => {
    const { userId, passId } = await memberWithPass(1);
    const other = await memberWithPass(5);
    const booked = await call('POST', '/bookings', {
      body: { memberId: userId, passId, ...classAt(2 * DAY) },
    });
    expect(booked.status).toBe(201);
    expect(booked.body).toMatchObject({
      memberId: userId,
      passId,
      status: 'READY',
      lateCancel: false,
      attended: false,
    });
    expect((await call('GET', '/bookings/{id}', { params: { id: booked.body.id } })).body.id).toBe(
      booked.body.id,
    );

    const before = await rowCounts();
    const refusals: Array<[string, unknown]> = [
      ['pass-not-members', { memberId: userId, passId: other.passId, ...classAt(DAY) }],
      ['pass-not-valid', { memberId: other.userId, passId: other.passId, ...classAt(60 * DAY) }],
      ['no-free-session', { memberId: userId, passId, ...classAt(3 * DAY) }],
    ];
    for (const [reason, body] of refusals) {
      const refused = await call('POST', '/bookings', { body });
      expect(refused.status, reason).toBe(409);
      expect(refused.body.reason, reason).toBe(reason);
      expect(refused.body.detail, reason).toMatch(/pass \d+/);
    }
    const backwards = await call('POST', '/bookings', {
      body: { memberId: userId, passId, startedAt: '2026-05-01T10:00', endedAt: '2026-05-01T09:00' },
    });
    expect(backwards.body.errors).toEqual([{ field: 'endedAt', message: 'must be after startedAt' }]);
    expect(
      (await call('POST', '/bookings', { body: { memberId: 999999, passId, ...classAt(DAY) } })).status,
    ).toBe(404);
    expect(await rowCounts()).toEqual(before);
    expect((await call('GET', '/bookings/{id}', { params: { id: 999999 } })).status).toBe(404);
  });

  it('two concurrent bookings for the last free session: exactly one wins, 20 times over', async () => {
    for (let round = 0; round < 20; round++) {
      const { userId, passId } = await memberWithPass(1);
      const [a, b] = await Promise.all([
        call('POST', '/bookings', { body: { memberId: userId, passId, ...classAt(DAY) } }),
        call('POST', '/bookings', { body: { memberId: userId, passId, ...classAt(2 * DAY) } }),
      ]);
      expect([a.status, b.status].sort(), `round ${round}`).toEqual([201, 409]);
      expect([a, b].find((r) => r.status === 409)!.body.reason).toBe('no-free-session');
      const held = await stack.database.db.execute<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM bookings WHERE pass_id = ${passId}`,
      );
      expect(held[0]!.n, `round ${round}`).toBe(1);
    }
  });

  it('cancels early for free; a late cancel stays CANCELLED and deduct-sessions still charges it; attendance is marked', async () => {
    const { userId, passId } = await memberWithPass(5);
    const early = await call('POST', '/bookings', {
      body: { memberId: userId, passId, ...classAt(5 * DAY) },
    });
    const cancelled = await call('POST', '/bookings/{id}/cancel', { params: { id: early.body.id } });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'CANCELLED', lateCancel: false });
    // A class that began an hour ago (booked by the front desk), cancelled now: inside LATE_CANCEL_HOURS (12).
    const late = await call('POST', '/bookings', {
      body: {
        memberId: userId,
        passId,
        startedAt: new Date(Date.now() - 2 * HOUR).toISOString(),
        endedAt: new Date(Date.now() - HOUR).toISOString(),
      },
    });
    expect(late.status).toBe(201);
    const lateCancel = await call('POST', '/bookings/{id}/cancel', { params: { id: late.body.id } });
    expect(lateCancel.body).toMatchObject({ status: 'CANCELLED', lateCancel: true });
    const before = await rowCounts();
    const again = await call('POST', '/bookings/{id}/cancel', { params: { id: late.body.id } });
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe('not-cancellable');
    expect((await call('POST', '/bookings/{id}/cancel', { params: { id: 999999 } })).status).toBe(404);
    const onCancelled = await call('POST', '/bookings/{id}/attendance', {
      params: { id: late.body.id },
      body: { attended: true },
    });
    expect(onCancelled.status).toBe(409);
    expect(await rowCounts()).toEqual(before);

    const attended = await call('POST', '/bookings', { body: { memberId: userId, passId, ...classAt(DAY) } });
    const marked = await call('POST', '/bookings/{id}/attendance', {
      params: { id: attended.body.id },
      body: { attended: true },
    });
    expect(marked.body.attended).toBe(true);

    const launched = await call('POST', '/jobs/{job}/runs', { params: { job: 'deduct-sessions' }, body: {} });
    expect(launched.status).toBe(202);
    expect(launched.body.outcome).toBe('started');
    const run = await waitFor('the deduct-sessions run', async () => {
      const runs = await call('GET', '/runs', { query: { job: 'deduct-sessions' } });
      return runs.body.items.find(
        (r: { workflowId: string; status: string }) =>
          r.workflowId === launched.body.workflowId && r.status === 'COMPLETED',
      );
    });
    const shown = await call('GET', '/runs/{id}', { params: { id: run.runId } });
    expect(shown.body.steps.length).toBeGreaterThan(0);
    const rows = await stack.database.db.execute<{ id: number; status: string; used_pass: boolean }>(
      sql`SELECT id::int, status, used_pass FROM bookings WHERE pass_id = ${passId} ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: early.body.id, status: 'CANCELLED', used_pass: false },
      { id: late.body.id, status: 'CANCELLED', used_pass: true },
      { id: attended.body.id, status: 'READY', used_pass: false },
    ]);
    const pass = await stack.database.db.execute<{ remaining_count: number }>(
      sql`SELECT remaining_count FROM passes WHERE id = ${passId}`,
    );
    expect(pass[0]!.remaining_count).toBe(4);
    expect(
      (await call('GET', '/runs/{id}', { params: { id: '00000000-0000-0000-0000-000000000000' } })).status,
    ).toBe(404);
    const unknownJob = await call('POST', '/jobs/{job}/runs', { params: { job: 'no-such-job' }, body: {} });
    expect(unknownJob.status).toBe(400);
    expect(unknownJob.body.detail).toContain("unknown job 'no-such-job'");
    // Parameters naming a row that does not exist: refused at launch, nothing started in Temporal.
    for (const [job, params, detail] of [
      ['import-members', { importId: 99999 }, 'import-members: no import 99999'],
      ['apply-closure', { closureId: 88888 }, 'apply-closure: no closure 88888'],
      ['issue-bulk-passes', { bulkPassId: 77777 }, 'issue-bulk-passes: no bulk pass 77777'],
    ] as const) {
      const refused = await call('POST', '/jobs/{job}/runs', { params: { job }, body: { params } });
      expect(refused.status).toBe(400);
      expect(refused.body.detail).toContain(detail);
    }
    for await (const workflow of stack.client.workflow.list())
      expect(workflow.workflowId).not.toMatch(/-(import-99999|closure-88888|bulk-77777)$/);
  });
});

describe('API strictness', () => {
  it('a cancel takes no fields: {} is a cancel, an unknown field is refused and cancels nothing', async () => {
    const db = stack.database.db;
    const userId = await seedUser(db, 'Strict Canceller');
    const packageId = await seedPackage(db, 5, null);
    const passId = await seedPass(db, {
      userId,
      packageId,
      startedAt: new Date(Date.now() - DAY),
      endedAt: new Date(Date.now() + 30 * DAY),
    });
    const booked = await call('POST', '/bookings', {
      body: {
        memberId: userId,
        passId,
        startedAt: new Date(Date.now() + 5 * DAY).toISOString(),
        endedAt: new Date(Date.now() + 5 * DAY + HOUR).toISOString(),
      },
    });
    expect(booked.status).toBe(201);
    const before = await rowCounts();
    const extra = await call('POST', '/bookings/{id}/cancel', {
      params: { id: booked.body.id },
      body: { x: 1 },
    });
    expect(extra.status).toBe(400);
    expect(extra.contentType).toBe('application/problem+json');
    expect(extra.body.detail).toContain('"x"');
    expect(await rowCounts()).toEqual(before);
    const cancelled = await call('POST', '/bookings/{id}/cancel', {
      params: { id: booked.body.id },
      body: {},
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('CANCELLED');
  });

  it('GET /runs?job= refuses a job that does not exist, naming the jobs there are', async () => {
    const unknown = await call('GET', '/runs', { query: { job: 'nosuch' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([
      { field: 'query.job', message: `'nosuch' is not a job: one of ${JOB_NAMES.join(', ')}` },
    ]);
    expect(unknown.body.errors[0].message).toContain('pass-lifecycle, prune-run-records, deduct-sessions');
    expect((await call('GET', '/runs', { query: { job: 'pass-lifecycle' } })).status).toBe(200);
  });
});

describe('API idempotency', () => {
  it('a repeated POST with the same key and body returns the first response and writes nothing; another body is refused', async () => {
    const key = `member-${Date.now()}`;
    const first = await call('POST', '/members', { key, body: { name: 'Once Only' } });
    expect(first.status).toBe(201);
    const before = await rowCounts();
    const replay = await call('POST', '/members', { key, body: { name: 'Once Only' } });
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const other = await call('POST', '/members', { key, body: { name: 'Someone Else' } });
    expect(other.status).toBe(422);
    expect(other.body.reason).toBe('idempotency-key-reused');
    expect(await rowCounts()).toEqual(before);

    // Concurrent repeats: one write, every answer the same.
    const racedKey = `race-${Date.now()}`;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => call('POST', '/members', { key: racedKey, body: { name: 'Raced' } })),
    );
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect((await rowCounts()).users).toBe(before.users! + 1);

    // A refused request keeps no key: fixing the body and retrying with it works.
    const refusedKey = `refused-${Date.now()}`;
    expect(
      (
        await call('POST', '/packages', {
          key: refusedKey,
          body: { name: 'Bad', sessionCount: 0, periodDays: null },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await call('POST', '/packages', {
          key: refusedKey,
          body: { name: 'Good', sessionCount: 1, periodDays: null },
        })
      ).status,
    ).toBe(201);
  });
});

describe('API bulk passes', () => {
  it('grants one pass each with the grant rules, issues them through the job, and lists the bulk passes', async () => {
    const db = stack.database.db;
    const a = await seedUser(db, 'Bulk A');
    const b = await seedUser(db, 'Bulk B');
    const packageId = await seedPackage(db, 8, 30);
    const created = await call('POST', '/bulk-passes', { body: { packageId, memberIds: [a, b] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ packageId, count: 8, status: 'READY' });
    const done = await waitFor('the bulk pass to be issued', async () => {
      const page = await call('GET', '/bulk-passes', { query: { limit: 200 } });
      return page.body.items.find(
        (p: { id: number; status: string }) => p.id === created.body.id && p.status === 'COMPLETED',
      );
    });
    expect(done.issuedCount).toBe(2);
    const issued = await db.execute<{ user_id: number }>(
      sql`SELECT user_id::int FROM passes WHERE bulk_pass_id = ${created.body.id} ORDER BY user_id`,
    );
    expect(issued.map((r) => r.user_id)).toEqual([a, b]);

    const before = await rowCounts();
    const unlimited = await seedPackage(db, null, null);
    const after = await rowCounts();
    const refused = await call('POST', '/bulk-passes', {
      body: { packageId: unlimited, memberIds: [a], count: 3 },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toBe(
      `package ${unlimited} has unlimited sessions; --count cannot be given for it (leave it out, or pick a package with sessions)`,
    );
    const both = await call('POST', '/bulk-passes', { body: { packageId, memberIds: [a], groupId: 1 } });
    expect(both.body.errors[0].field).toBe('groupId');
    expect(await rowCounts()).toEqual(after);
    expect(after.packages).toBe(before.packages! + 1);
  });
});

describe('imports', () => {
  it('uploads a CSV, reads the import and downloads its rejects (README "Imports"; more in api-imports.test.ts)', async () => {
    const csv = 'external_id,name\r\napi-m1,Kim\r\napi-m2,\r\n';
    const started = await call('post', '/imports/{kind}', {
      params: { kind: 'members' },
      query: { fileName: 'members.csv' },
      body: csv,
      headers: { 'Content-Type': 'text/csv' },
      key: 'import-upload-1',
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: 'members', fileName: 'members.csv', rows: 2 });
    await stack.client.workflow.getHandle(started.body.workflowId).result();
    const state = await call('get', '/imports/{id}', {
      params: { id: started.body.importId },
      token: readToken,
    });
    expect(state.body).toMatchObject({ status: 'IMPORTED', rows: 2, written: 1, rejected: 1 });
    const rejects = await call('get', '/imports/{id}/rejects', { params: { id: started.body.importId } });
    expect(rejects.contentType).toBe('text/csv');
    // (fetch's text() drops the BOM the file starts with)
    expect(rejects.body).toBe('line,reason,external_id,name,phone,status\r\n3,name is empty,api-m2,,,\r\n');
    const wrong = await call('post', '/imports/{kind}', {
      params: { kind: 'members' },
      body: 'id,name\n1,Kim\n',
      headers: { 'Content-Type': 'text/csv' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.detail).toMatch(/unknown column 'id'/);
  });
});

describe('API document', () => {
  it('serves a valid OpenAPI 3.1 document and a readable reference page', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by key
    const doc: any = await (await fetch(`${base}/openapi.json`)).json();
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const page = await fetch(`${base}/reference`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const text = await page.text();
    expect(text).not.toMatch(/<script/i);
    for (const path of Object.keys(doc.paths)) expect(text).toContain(`/api/v1${path}`);
  });

  it('every real response of this file matches the document, and every route was called', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: a JSON document walked by key
    const doc: any = await (await fetch(`${base}/openapi.json`)).json();
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const rewrite = (schema: unknown) =>
      JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"doc#/components/schemas/'));
    ajv.addSchema({ $id: 'doc', components: rewrite(doc.components) });
    const covered = new Set<string>();
    for (const r of recorded) {
      const op = doc.paths[r.template]?.[r.method];
      expect(op, `${r.method} ${r.template} is in the document`).toBeDefined();
      const response = op.responses[String(r.status)];
      expect(response, `${r.method} ${r.template} ${r.status} is documented`).toBeDefined();
      const media = response.content?.[r.contentType];
      expect(media, `${r.method} ${r.template} ${r.status} ${r.contentType}`).toBeDefined();
      const check = ajv.compile(rewrite(media.schema));
      expect(check(r.body) ? [] : check.errors, `${r.method} ${r.template} ${r.status}`).toEqual([]);
      if (r.status < 300) covered.add(`${r.method} ${r.template}`);
    }
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods as object).map((m) => `${m} ${path}`),
    );
    expect(routes.filter((r) => !covered.has(r))).toEqual([]);
  });
});
