import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ptpass } from './helpers/cli.ts';
import { useJobTestEnvironment } from './helpers/job-test.ts';
import { seedPackage, seedPass } from './helpers/seed.ts';
import { temporalAddress } from './helpers/temporal.ts';

const env = useJobTestEnvironment('imports');
let dir: string;
let cliEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  await env.restartWorker();
  // Import ids of this file's database start apart from other files' (job instances share a namespace).
  await env.database.db.execute(sql`ALTER SEQUENCE imports_id_seq RESTART WITH 100000`);
  dir = await mkdtemp(join(tmpdir(), 'ptpass-imports-'));
  cliEnv = {
    DATABASE_URL: env.database.url,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_TASK_QUEUE: env.temporal.taskQueue,
    BUSINESS_TIMEZONE: 'Asia/Seoul',
  };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  // Not RESTART IDENTITY: an import's job instance is named after its id, and ids must not repeat.
  await env.database.db.execute(sql`TRUNCATE imports, bookings, passes, job_runs, users, packages CASCADE`);
});

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

interface ImportJson {
  importId: number;
  rows: number;
  written: number;
  unchanged: number;
  rejected: number;
  runId: string;
  rejects?: Array<{ line: number; reason: string }>;
}

async function importCsv(kind: 'members' | 'bookings', path: string, ...flags: string[]) {
  const run = await ptpass(['import', kind, path, '--wait', '--json', ...flags], cliEnv);
  expect(
    run.stderr.split('\n').filter((l) => l && !l.includes('staging')),
    run.stderr,
  ).toEqual([]);
  expect(run.code).toBe(0);
  return run.json<ImportJson>();
}

const members = () =>
  env.database.db.execute<{
    external_id: string;
    name: string;
    phone: string | null;
    status: string;
    modified_at: string;
  }>(sql`SELECT external_id, name, phone, status, modified_at::text FROM users ORDER BY external_id`);

const counts = async () => {
  const [row] = await env.database.db.execute<{ users: number; bookings: number; imports: number }>(sql`
    SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM bookings)::int AS bookings,
           (SELECT count(*) FROM imports)::int AS imports`);
  return row!;
};

describe('ptpass import members', () => {
  it('reads an Excel CSV (BOM, CRLF, sep= line, quotes, Korean names), and importing it again changes nothing', async () => {
    const csv =
      '\uFEFFsep=,\r\n' +
      'External ID,Name,Phone,STATUS\r\n' +
      'm-001,김민수,010-1234-5678,active\r\n' +
      'm-002,"이, 서연",,INACTIVE\r\n' +
      'm-003,"Ann ""The Coach"" Lee",+82 10 5555 0000,\r\n' +
      '\r\n' +
      ',,,\r\n' +
      'm-004,박지훈,010 9999 0000,ACTIVE\r\n';
    const path = await file('members.csv', csv);
    const first = await importCsv('members', path);
    expect(first).toMatchObject({ rows: 4, written: 4, unchanged: 0, rejected: 0 });
    const imported = await members();
    expect(imported.map(({ modified_at: _, ...m }) => m)).toEqual([
      { external_id: 'm-001', name: '김민수', phone: '010-1234-5678', status: 'ACTIVE' },
      { external_id: 'm-002', name: '이, 서연', phone: null, status: 'INACTIVE' },
      { external_id: 'm-003', name: 'Ann "The Coach" Lee', phone: '+82 10 5555 0000', status: 'ACTIVE' },
      { external_id: 'm-004', name: '박지훈', phone: '010 9999 0000', status: 'ACTIVE' },
    ]);

    const again = await importCsv('members', path);
    expect(again).toMatchObject({ rows: 4, written: 0, unchanged: 4, rejected: 0 });
    expect(again.importId).not.toBe(first.importId);
    expect(await members()).toEqual(imported);

    // One changed row: only that member is written, only its modified_at moves.
    const changed = await file(
      'members-changed.csv',
      csv.replace('박지훈,010 9999 0000', '박지훈,010 9999 0001'),
    );
    expect(await importCsv('members', changed)).toMatchObject({ written: 1, unchanged: 3 });
    const after = await members();
    expect(after.slice(0, 3)).toEqual(imported.slice(0, 3));
    expect(after[3]).toMatchObject({ phone: '010 9999 0001' });
    expect(after[3]!.modified_at).not.toBe(imported[3]!.modified_at);
  });

  it('imports the good rows of a file with bad ones and lists every bad line with its reason', async () => {
    const csv = [
      'external_id;name;phone;status', // semicolon-delimited, as Excel writes in many locales
      'a1;Kim;010-1111-2222;ACTIVE',
      ';No Id;;',
      'a2;;;',
      'a3;Lee;call me;',
      'a4;Park;;RETIRED',
      'a1;Kim Again;;',
      'a5;Choi;;;extra',
      'a6;Jung',
      'a7;"Yoon; Ji";;INACTIVE',
    ].join('\n');
    const path = await file('members-bad.csv', csv);
    const result = await importCsv('members', path);
    expect(result).toMatchObject({ rows: 9, written: 2, unchanged: 0, rejected: 7 });
    expect((await members()).map((m) => [m.external_id, m.name, m.status])).toEqual([
      ['a1', 'Kim', 'ACTIVE'],
      ['a7', 'Yoon; Ji', 'INACTIVE'],
    ]);

    const expected = [
      ['3', 'external_id is empty'],
      ['4', 'name is empty'],
      ['5', 'phone is not a phone number (digits, spaces, + ( ) - .)'],
      ['6', "status 'RETIRED' is not ACTIVE or INACTIVE"],
      ['7', 'external_id a1 is also on line 2, which is the one imported'],
      ['8', 'has 5 fields; the header has 4'],
      ['9', 'has 2 fields; the header has 4'],
    ];
    const out = join(dir, 'rejects.csv');
    const rejects = await ptpass(['import', 'rejects', String(result.importId), '--out', out], cliEnv);
    expect(rejects.code).toBe(0);
    expect(rejects.stdout).toContain(`7 rejected rows of import ${result.importId}`);
    const text = await readFile(out, 'utf8');
    expect(text.startsWith('\uFEFFline,reason,external_id,name,phone,status\r\n')).toBe(true);
    expect(parse(text, { bom: true })).toEqual([
      ['line', 'reason', 'external_id', 'name', 'phone', 'status'],
      ['3', 'external_id is empty', '', 'No Id', '', ''],
      ['4', 'name is empty', 'a2', '', '', ''],
      ['5', 'phone is not a phone number (digits, spaces, + ( ) - .)', 'a3', 'Lee', 'call me', ''],
      ['6', "status 'RETIRED' is not ACTIVE or INACTIVE", 'a4', 'Park', '', 'RETIRED'],
      ['7', 'external_id a1 is also on line 2, which is the one imported', 'a1', 'Kim Again', '', ''],
      ['8', 'has 5 fields; the header has 4', 'a5', 'Choi', '', ''],
      ['9', 'has 2 fields; the header has 4', 'a6', 'Jung', '', ''],
    ]);

    // The same lines and reasons in the run record (`ptpass runs show`).
    const show = await ptpass(['runs', 'show', result.runId, '--json'], cliEnv);
    const skips = show.json<{ skips: Array<{ key: string; reason: string }> }>().skips;
    expect(skips.map((s) => [s.key, s.reason]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(expected);
    const [imported] = await env.database.db.execute<{ status: string; written: number; rejected: number }>(
      sql`SELECT status, written_count AS written, rejected_count AS rejected FROM imports WHERE id = ${result.importId}`,
    );
    expect(imported).toEqual({ status: 'IMPORTED', written: 2, rejected: 7 });
  });

  it('--dry-run reports what would change and the rejects, and writes nothing', async () => {
    await importCsv('members', await file('base.csv', 'external_id,name\nd1,Kim\nd2,Lee\n'));
    const before = await members();
    const run = await ptpass(
      [
        'import',
        'members',
        await file('dry.csv', 'external_id,name\nd1,Kim\nd2,Lee Changed\nd3,New\n,Bad\n'),
        '--dry-run',
        '--json',
      ],
      cliEnv,
    );
    expect(run.code).toBe(0);
    expect(run.json<ImportJson>()).toMatchObject({
      rows: 4,
      written: 2,
      unchanged: 1,
      rejected: 1,
      rejects: [{ line: 5, reason: 'external_id is empty' }],
    });
    expect(await members()).toEqual(before);
    expect(await counts()).toMatchObject({ users: 2, imports: 1 });
  });
});

describe('ptpass import bookings', () => {
  it('books each row with its pass, skips bad rows with their reasons, and a re-import changes nothing', async () => {
    await importCsv('members', await file('m.csv', 'external_id,name\nu1,김민수\nu2,Lee\nu3,Park\n'));
    const ids = Object.fromEntries(
      (
        await env.database.db.execute<{ external_id: string; id: number }>(
          sql`SELECT external_id, id FROM users`,
        )
      ).map((r) => [r.external_id, Number(r.id)]),
    );
    const pkg = await seedPackage(env.database.db);
    const day = (d: string) => new Date(`2026-${d}T00:00:00+09:00`);
    // u1: an old pass ending in March and a newer one; u2: one pass; u3: none.
    const u1Old = await seedPass(env.database.db, {
      userId: ids.u1!,
      packageId: pkg,
      startedAt: day('01-01'),
      endedAt: day('03-01'),
    });
    const u1New = await seedPass(env.database.db, {
      userId: ids.u1!,
      packageId: pkg,
      startedAt: day('02-01'),
      endedAt: day('06-01'),
    });
    const u2Pass = await seedPass(env.database.db, {
      userId: ids.u2!,
      packageId: pkg,
      startedAt: day('01-01'),
      endedAt: null,
    });

    const csv = [
      'external_id,member_external_id,pass_id,starts_at,ends_at,status,attended,used_pass,cancelled_at',
      'b1,u1,,2026-02-10 10:00,2026-02-10 11:00,COMPLETED,yes,true,', // u1's soonest-ending valid pass: u1Old
      'b2,u1,,2026-04-01T10:00:00+09:00,2026-04-01T11:00:00+09:00,,,,', // only u1New is valid
      `b3,u1,${u1New},2026-02-11 10:00,2026-02-11 11:00,CANCELLED,no,,2026-02-10 09:00`,
      'b4,u2,,2026-05-01 10:00,2026-05-01 11:00,,,,',
      'b5,u9,,2026-05-01 10:00,2026-05-01 11:00,,,,',
      'b6,u3,,2026-05-01 10:00,2026-05-01 11:00,,,,',
      `b7,u2,${u1New},2026-05-01 10:00,2026-05-01 11:00,,,,`,
      'b8,u2,,tomorrow,2026-05-01 11:00,,,,',
      'b9,u2,,2026-05-01 11:00,2026-05-01 10:00,,,,',
      'b10,u2,,2026-05-01 10:00,2026-05-01 11:00,CANCELLED,,,',
      'b11,u2,,2026-05-01 10:00,2026-05-01 11:00,DONE,,,',
      'b12,u2,,2026-05-01 10:00,2026-05-01 11:00,,maybe,,',
      'b4,u2,,2026-05-02 10:00,2026-05-02 11:00,,,,',
      `b13,u2,x1,2026-05-01 10:00,2026-05-01 11:00,,,,`,
    ].join('\r\n');
    const path = await file('bookings.csv', csv);
    const result = await importCsv('bookings', path);
    expect(result).toMatchObject({ rows: 14, written: 4, unchanged: 0, rejected: 10 });

    const bookings = () =>
      env.database.db.execute<Record<string, unknown>>(sql`
        SELECT b.external_id, u.external_id AS member, b.pass_id::int AS pass, b.status, b.attended, b.used_pass,
               b.started_at, b.cancelled_at IS NOT NULL AS cancelled, b.modified_at::text
        FROM bookings b JOIN users u ON u.id = b.user_id ORDER BY b.external_id`);
    const rows = await bookings();
    expect(rows.map(({ modified_at: _, started_at: __, ...b }) => b)).toEqual([
      {
        external_id: 'b1',
        member: 'u1',
        pass: u1Old,
        status: 'COMPLETED',
        attended: true,
        used_pass: true,
        cancelled: false,
      },
      {
        external_id: 'b2',
        member: 'u1',
        pass: u1New,
        status: 'READY',
        attended: false,
        used_pass: false,
        cancelled: false,
      },
      {
        external_id: 'b3',
        member: 'u1',
        pass: u1New,
        status: 'CANCELLED',
        attended: false,
        used_pass: false,
        cancelled: true,
      },
      {
        external_id: 'b4',
        member: 'u2',
        pass: u2Pass,
        status: 'READY',
        attended: false,
        used_pass: false,
        cancelled: false,
      },
    ]);
    // A time without an offset is read in BUSINESS_TIMEZONE (Asia/Seoul here).
    expect(new Date(String(rows[0]!.started_at)).toISOString()).toBe('2026-02-10T01:00:00.000Z');

    const rejects = await ptpass(['import', 'rejects', String(result.importId)], cliEnv);
    expect(rejects.code).toBe(0);
    const rejected = (parse(rejects.stdout, { bom: true }) as string[][]).slice(1).map((r) => [r[0], r[1]]);
    expect(rejected).toEqual([
      ['6', 'no member has external_id u9'],
      ['7', 'member u3 has no pass valid at 2026-05-01T01:00:00.000Z; give a pass_id'],
      ['8', `pass ${u1New} is not a pass of member u2 valid at 2026-05-01T01:00:00.000Z`],
      ['9', "starts_at 'tomorrow' is not a time such as 2026-11-22 10:00 or 2026-11-22T10:00:00+09:00"],
      ['10', 'ends_at is not after starts_at'],
      ['11', 'status CANCELLED needs cancelled_at'],
      ['12', "status 'DONE' is not one of READY, PROGRESSED, COMPLETED, CANCELLED"],
      ['13', "attended 'maybe' is not true or false"],
      ['14', 'external_id b4 is also on line 5, which is the one imported'],
      ['15', "pass_id 'x1' is not a pass id (a whole number)"],
    ]);

    // Re-import: nothing written, not even modified_at.
    const again = await importCsv('bookings', path);
    expect(again).toMatchObject({ written: 0, unchanged: 4, rejected: 10 });
    expect(await bookings()).toEqual(rows);

    // A booking whose session was taken keeps its status and charge whatever a later file says: no re-import
    // can make deduct-sessions charge it again.
    const reverted = await file('bookings-reverted.csv', csv.replace('COMPLETED,yes,true,', ',yes,,'));
    expect(await importCsv('bookings', reverted)).toMatchObject({ written: 0, unchanged: 4 });
    expect(await bookings()).toEqual(rows);
  });
});

describe('bad import input', () => {
  it('exits 2 with one line naming the problem, and writes nothing', async () => {
    const good = await file('ok.csv', 'external_id,name\nx1,Kim\n');
    const cases: Array<[string[], RegExp]> = [
      [['import', 'members'], /^ptpass import members: <FILE\.csv> is required/],
      [['import', 'members', good, 'extra'], /unexpected argument 'extra'/],
      [['import', 'members', join(dir, 'missing.csv')], /cannot read .*missing\.csv \(ENOENT\)/],
      [['import', 'members', dir], /cannot read .* \(EISDIR\)/],
      [['import', 'members', await file('e.csv', '')], /e\.csv: is empty/],
      [
        ['import', 'members', await file('u.csv', 'external_id,name,email\nx,y,z\n')],
        /u\.csv: header: unknown column 'email' \(members columns: external_id, name, phone, status\)/,
      ],
      [
        ['import', 'members', await file('r.csv', 'name,phone\ny,1\n')],
        /r\.csv: header: no external_id column/,
      ],
      [
        ['import', 'bookings', await file('rb.csv', 'external_id,member_external_id\nb,m\n')],
        /rb\.csv: header: no starts_at, ends_at columns/,
      ],
      [['import', 'members', await file('d.csv', 'external_id,Name,name\n')], /column 'name' is given twice/],
      [
        ['import', 'members', await file('k.csv', Buffer.from('external_id,name\nx1,\xb1\xe8\n', 'latin1'))],
        /k\.csv: is not UTF-8 text/,
      ],
      [
        ['import', 'members', await file('q.csv', 'external_id,name\nx1,Kim\nx2,"Lee\n')],
        /q\.csv: .*Quote Not Closed.*line 3/,
      ],
      [['import', 'members', good, '--frobnicate'], /Unknown option '--frobnicate'/],
      [['import', 'rejects'], /<import-id> is required/],
      [['import', 'rejects', 'abc'], /'abc' is not an import id/],
      [['import', 'rejects', '999'], /no import 999/],
    ];
    for (const [args, message] of cases) {
      const run = await ptpass(args, cliEnv);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
    expect(await counts()).toEqual({ users: 0, bookings: 0, imports: 0 });
    const [runs] = await env.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM job_runs`);
    expect(runs!.n).toBe(0);
  });
});

describe('a large file after small ones', () => {
  it('gets fresh planner statistics for its staged rows before its job runs', async () => {
    await importCsv('members', await file('tiny.csv', 'external_id,name\nt1,Kim\nt2,Lee\n'));
    // As autovacuum would leave them: statistics of a staged table holding two rows.
    await env.database.db.execute(sql`ANALYZE import_member_rows`);
    const lines = Array.from({ length: 3000 }, (_, i) => `big${i},Member ${i}`);
    const big = await importCsv('members', await file('big.csv', `external_id,name\n${lines.join('\n')}\n`));
    expect(big).toMatchObject({ rows: 3000, written: 3000, rejected: 0 });
    // The planner knows the 3,000 staged rows (it planned every chunk for two before: minutes at 60,000).
    const [stats] = await env.database.db.execute<{ reltuples: number }>(
      sql`SELECT reltuples::int AS reltuples FROM pg_class WHERE relname = 'import_member_rows'`,
    );
    expect(stats!.reltuples).toBeGreaterThanOrEqual(3000);
  });
});

describe('ptpass job run of an import job', () => {
  it('refuses an import id that does not exist, or of the other kind, with exit 2 and one line; nothing starts', async () => {
    const staged = await importCsv('members', await file('one.csv', 'external_id,name\nr1,Kim\n'));
    for (const [id, line] of [
      [77777, 'import-bookings: no import 77777 (see `ptpass import` and GET /imports/bookings/{id})'],
      [
        staged.importId,
        `import-bookings: import ${staged.importId} is a members import; run import-members for it`,
      ],
    ] as const) {
      const run = await ptpass(
        ['job', 'run', 'import-bookings', '--param', `importId=${id}`, '--wait'],
        cliEnv,
      );
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe(`ptpass job run: ${line}`);
    }
    const [runs] = await env.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM job_runs`);
    expect(runs!.n).toBe(1);
  });

  it('--wait on a run that fails says why, and which run to look at and restart', async () => {
    const user = await env.database.db.execute<{ id: number }>(
      sql`INSERT INTO users (name) VALUES ('Due') RETURNING id::int`,
    );
    const pkg = await seedPackage(env.database.db);
    const asOf = new Date('2024-02-29T03:17:00Z'); // an instance no other test file runs
    await seedPass(env.database.db, {
      userId: user[0]!.id,
      packageId: pkg,
      status: 'PROGRESSED',
      startedAt: new Date('2024-01-01T00:00:00Z'),
      endedAt: new Date('2024-02-01T00:00:00Z'),
    });
    await env.database.db.execute(sql`
      CREATE OR REPLACE FUNCTION refuse_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'test: expiry refused'; END $$;
      CREATE TRIGGER refuse_expiry BEFORE UPDATE ON passes FOR EACH ROW EXECUTE FUNCTION refuse_expiry()`);
    try {
      const run = await ptpass(
        ['job', 'run', 'pass-lifecycle', '--as-of', asOf.toISOString(), '--max-attempts', '1', '--wait'],
        cliEnv,
      );
      expect(run.code).toBe(1);
      const last = run.stderr.trim().split('\n').at(-1)!;
      expect(last).toMatch(
        /^ptpass job run: pass-lifecycle as of 2024-02-29T03:17:00.000Z failed: test: expiry refused ← .* \(run ([0-9a-f-]{36}): `ptpass runs show \1`, then `ptpass runs restart \1`\)$/,
      );
    } finally {
      await env.database.db.execute(sql`DROP TRIGGER refuse_expiry ON passes`);
    }
  });
});
