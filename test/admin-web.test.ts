import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionKeeper } from '../src/admin/auth.ts';
import { html } from '../src/admin/html.ts';
import { PROTECTED_PAGES, startAdminServer } from '../src/admin/server.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { loadConfig } from '../src/config.ts';
import { bulkPasses, jobRuns, passes } from '../src/db/schema.ts';
import { createLogger } from '../src/logger.ts';
import { addDays, businessDayOf } from '../src/time.ts';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  AdminBrowser,
  type AdminStack,
  startAdminStack,
} from './helpers/admin.ts';
import { freePort, ptpass } from './helpers/cli.ts';
import { seedGroup, seedPackage, seedUser } from './helpers/seed.ts';
import { seedBooking as seedStatsBooking, seedStatsPass, seoul } from './helpers/statistics.ts';
import { waitFor } from './helpers/worker-process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let stack: AdminStack;
let base: string;

beforeAll(async () => {
  stack = await startAdminStack('admin-web');
  base = stack.admin.url;
});
afterAll(async () => {
  await stack?.close();
});

const paused = async (id: string) => (await stack.client.schedule.getHandle(id).describe()).state.paused;

describe('admin web: authentication', () => {
  const everything: Array<[string, string]> = [
    ...PROTECTED_PAGES.map((p): [string, string] => ['GET', p]),
    ['GET', '/members?q=a'],
    ['GET', '/members/1'],
    ['GET', '/runs/00000000-0000-0000-0000-000000000000'],
    ['GET', '/no-such-page'],
    ['POST', '/schedules/pass-lifecycle/pause'],
    ['POST', '/bulk-passes'],
    ['POST', '/logout'],
  ];

  it('every page needs a login: a browser is sent to /login, any other client gets 401', async () => {
    for (const [method, path] of everything) {
      const asBrowser = await fetch(base + path, {
        method,
        redirect: 'manual',
        headers: { Accept: 'text/html' },
      });
      expect(asBrowser.status, `${method} ${path}`).toBe(303);
      expect(asBrowser.headers.get('location'), `${method} ${path}`).toMatch(/^\/login/);
      const asApi = await fetch(base + path, { method, redirect: 'manual' });
      expect(asApi.status, `${method} ${path}`).toBe(401);
    }
    // The login page remembers where to return to.
    const r = await fetch(`${base}/members?q=kim`, { redirect: 'manual', headers: { Accept: 'text/html' } });
    expect(r.headers.get('location')).toBe(`/login?next=${encodeURIComponent('/members?q=kim')}`);
    // A session cookie that was not signed with the secret is no login.
    const forged = Buffer.from(
      JSON.stringify({ user: ADMIN_USER, id: 'x', expiresAt: Date.now() + 3_600_000 }),
    ).toString('base64url');
    const withForged = await fetch(`${base}/runs`, { headers: { Cookie: `ptpass_admin=${forged}.AAAA` } });
    expect(withForged.status).toBe(401);
    expect(await paused('pass-lifecycle')).toBe(false);
  });

  it('a wrong password or user is refused and gives no session', async () => {
    for (const [user, password] of [
      [ADMIN_USER, 'wrong password!!'],
      ['admin', ADMIN_PASSWORD],
      [ADMIN_USER, ''],
    ] as const) {
      const browser = new AdminBrowser(base);
      const response = await browser.login(user, password);
      expect(response.status).toBe(401);
      expect(await response.text()).toContain('Wrong user or password.');
      expect(browser.cookies.has('ptpass_admin')).toBe(false);
      expect((await browser.get('/runs')).status).toBe(303);
    }
    // A login post that did not come from the login form is refused before the password is looked at.
    const direct = await new AdminBrowser(base).post('/login', {
      user: ADMIN_USER,
      password: ADMIN_PASSWORD,
    });
    expect(direct.status).toBe(403);
    expect(direct.headers.getSetCookie().some((c) => c.startsWith('ptpass_admin='))).toBe(false);
  });

  it('login sets a signed HttpOnly SameSite=Strict cookie with an expiry, pages load, logout ends the session', async () => {
    const browser = new AdminBrowser(base);
    const response = await browser.login();
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/runs');
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('ptpass_admin='))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; Max-Age=28800/);
    expect(cookie).toMatch(/; Expires=/);
    expect(cookie).not.toMatch(/Secure/);
    for (const path of PROTECTED_PAGES.filter((p) => p !== '/')) {
      const page = await browser.get(path);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    }
    const stolen = browser.cookieHeader();
    const csrf = await browser.csrfFrom('/runs');
    const out = await browser.post('/logout', { csrf });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login?bye=1');
    // The old cookie is dead on the server, not just deleted in the browser.
    expect((await fetch(`${base}/runs`, { headers: { Cookie: stolen } })).status).toBe(401);
  });

  it('marks the cookie Secure when ADMIN_COOKIE_SECURE=true, and then sends HSTS', async () => {
    const config = loadConfig({ ...stack.env, ADMIN_COOKIE_SECURE: 'true', ADMIN_SESSION_HOURS: '1' });
    const secure = await startAdminServer({
      config,
      db: stack.database.db,
      client: stack.client,
      logger: createLogger('error'),
    });
    try {
      const response = await new AdminBrowser(secure.url).login();
      const cookie = response.headers.getSetCookie().find((c) => c.startsWith('ptpass_admin='))!;
      expect(cookie).toMatch(/; Secure/);
      expect(cookie).toMatch(/; Max-Age=3600/);
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000');
    } finally {
      await secure.close();
    }
  });

  it('sessions expire, and a session from another secret is not accepted', () => {
    let now = 1_000_000;
    const keeper = new SessionKeeper(randomBytes(32), 60_000, () => now);
    const { cookie, session } = keeper.issue('owner');
    expect(keeper.verify(cookie)).toEqual(session);
    now += 59_999;
    expect(keeper.verify(cookie)).toBeDefined();
    now += 1;
    expect(keeper.verify(cookie)).toBeUndefined();
    const other = new SessionKeeper(randomBytes(32), 60_000, () => 0);
    expect(other.verify(keeper.issue('owner').cookie)).toBeUndefined();
    expect(other.csrfMatches(session, keeper.csrfToken(session))).toBe(false);
  });

  it('after 10 failed logins from one address even the right password waits', async () => {
    const config = loadConfig({ ...stack.env });
    const throttled = await startAdminServer({
      config,
      db: stack.database.db,
      client: stack.client,
      logger: createLogger('error'),
    });
    try {
      const browser = new AdminBrowser(throttled.url);
      for (let i = 0; i < 10; i++) expect((await browser.login(ADMIN_USER, `guess-${i}`)).status).toBe(401);
      const right = await browser.login();
      expect(right.status).toBe(429);
      expect(browser.cookies.has('ptpass_admin')).toBe(false);
    } finally {
      await throttled.close();
    }
  });
});

describe('admin web: forms', () => {
  it('a post without the CSRF token, or with a wrong one, is refused with 403 and changes nothing', async () => {
    const browser = new AdminBrowser(base);
    await browser.login();
    const token = await browser.csrfFrom('/schedules');
    const other = new AdminBrowser(base);
    await other.login();
    const otherToken = await other.csrfFrom('/schedules');
    expect(otherToken).not.toBe(token);

    const attempts: Array<[string, Record<string, string>, Record<string, string>]> = [
      ['no token', { note: 'forged' }, {}],
      ['empty token', { csrf: '', note: 'forged' }, {}],
      ['wrong token', { csrf: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', note: 'forged' }, {}],
      ["another session's token", { csrf: otherToken, note: 'forged' }, {}],
      ['right token from another site', { csrf: token, note: 'forged' }, { Origin: 'https://evil.example' }],
    ];
    for (const [label, form, headers] of attempts) {
      const response = await browser.post('/schedules/pass-lifecycle/pause', form, headers);
      expect(response.status, label).toBe(403);
      expect(await response.text(), label).toMatch(/nothing was changed/);
      expect(await paused('pass-lifecycle'), label).toBe(false);
    }
    // Not a form at all.
    const json = await fetch(`${base}/schedules/pass-lifecycle/pause`, {
      method: 'POST',
      headers: { Cookie: browser.cookieHeader(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ csrf: token }),
    });
    expect(json.status).toBe(415);
    expect(await paused('pass-lifecycle')).toBe(false);

    // The real form works.
    const ok = await browser.post('/schedules/pass-lifecycle/pause', { csrf: token, note: 'holidays' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/schedules?done=paused&schedule=pass-lifecycle');
    const described = await stack.client.schedule.getHandle('pass-lifecycle').describe();
    expect(described.state).toMatchObject({ paused: true, note: 'holidays' });
    expect(await (await browser.get(ok.headers.get('location')!)).text()).toContain('pass-lifecycle: paused');
    expect((await browser.post('/schedules/pass-lifecycle/resume', { csrf: token })).status).toBe(303);
    expect(await paused('pass-lifecycle')).toBe(false);
  });

  it('“Run now” starts the schedule’s job, which the worker runs', async () => {
    const browser = new AdminBrowser(base);
    await browser.login();
    const csrf = await browser.csrfFrom('/schedules');
    const response = await browser.post('/schedules/prune-run-records/trigger', { csrf });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/schedules?done=triggered&schedule=prune-run-records');
    const run = await waitFor(async () => {
      const rows = await stack.database.db.select().from(jobRuns).where(eq(jobRuns.job, 'prune-run-records'));
      return rows.find((r) => r.status === 'COMPLETED');
    }, 'the triggered run');
    expect(run.workflowId).toMatch(/^prune-run-records-\d{4}-/);
    const runs = await (await browser.get('/runs?job=prune-run-records')).text();
    expect(runs).toContain(`data-run="${run.id}"`);

    // Paused after that run, then resumed: the times missed while paused do not run by themselves (Temporal
    // does not catch up a pause), and the notice says so with the backfill that runs them.
    expect((await browser.post('/schedules/prune-run-records/pause', { csrf })).status).toBe(303);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // paused over a whole second at least
    const resumed = await browser.post('/schedules/prune-run-records/resume', { csrf });
    expect(resumed.status).toBe(303);
    expect(resumed.headers.get('location')).toMatch(
      /^\/schedules\?done=resumed&schedule=prune-run-records&after=/,
    );
    const notice = await (await browser.get(resumed.headers.get('location')!)).text();
    expect(notice).toMatch(
      /prune-run-records: resumed\. The times it missed while paused \(after \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(Asia\/Seoul\)\) do not run by themselves; to run them: ptpass schedules backfill prune-run-records --from \S+Z --to \S+Z/,
    );
    // A hand-made `after` that is no instant is ignored: the plain notice, no hint, no error.
    const forged = await browser.get(
      '/schedules?done=resumed&schedule=prune-run-records&after=%3Cb%3Enot-a-time',
    );
    expect(forged.status).toBe(200);
    const forgedText = await forged.text();
    expect(forgedText).toContain('prune-run-records: resumed');
    expect(forgedText).not.toContain('do not run by themselves');
    expect(forgedText).not.toContain('<b>not-a-time');
  });

  it('validates input on the server: unknown schedules, jobs, ids and over-long searches', async () => {
    const browser = new AdminBrowser(base);
    await browser.login();
    const csrf = await browser.csrfFrom('/schedules');
    expect((await browser.post('/schedules/no-such-job/pause', { csrf })).status).toBe(404);
    expect((await browser.post('/schedules/pass-lifecycle/delete', { csrf })).status).toBe(404);
    const longNote = await browser.post('/schedules/pass-lifecycle/pause', { csrf, note: 'x'.repeat(201) });
    expect(longNote.status).toBe(400);
    expect(await longNote.text()).toContain('the note must be at most 200 characters');
    expect(await paused('pass-lifecycle')).toBe(false);
    const badJob = await browser.get('/runs?job=nope');
    expect(badJob.status).toBe(400);
    expect(await badJob.text()).toContain('job must be one of pass-lifecycle, prune-run-records');
    expect((await browser.get('/runs/not-a-uuid')).status).toBe(404);
    expect((await browser.get('/runs/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await browser.get('/members/abc')).status).toBe(404);
    expect((await browser.get('/members/999999')).status).toBe(404);
    const long = await browser.get(`/members?q=${'a'.repeat(101)}`);
    expect(long.status).toBe(400);
    expect(await long.text()).toContain('the search must be at most 100 characters');
    // Only same-site paths are followed after the login.
    const b2 = new AdminBrowser(base);
    const csrfLogin = await b2.csrfFrom('/login');
    const offsite = await b2.post('/login', {
      csrf: csrfLogin,
      user: ADMIN_USER,
      password: ADMIN_PASSWORD,
      next: '//evil.example/x',
    });
    expect(offsite.headers.get('location')).toBe('/');
  });
});

describe('admin web: pages', () => {
  it('member search escapes HTML: a member named <script> is text, and so is the search itself', async () => {
    const id = await seedUser(stack.database.db, '<script>alert("x")</script> Kim');
    const browser = new AdminBrowser(base);
    await browser.login();
    const page = await (await browser.get('/members?q=script')).text();
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Kim');
    expect(page).not.toContain('<script');
    expect(page).toContain(`href="/members/${id}"`);
    const detail = await (await browser.get(`/members/${id}`)).text();
    expect(detail).toContain('<h1>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Kim</h1>');
    expect(detail).not.toContain('<script');
    const echoed = await (
      await browser.get(`/members?q=${encodeURIComponent('"><img src=x onerror=1>')}`)
    ).text();
    expect(echoed).toContain('value="&quot;&gt;&lt;img src=x onerror=1&gt;"');
    expect(echoed).not.toContain('<img');
    // By ID too.
    expect(await (await browser.get(`/members?q=${id}`)).text()).toContain(`href="/members/${id}"`);
  });

  it('search treats % and _ literally (parameterised ILIKE)', async () => {
    await seedUser(stack.database.db, 'Discount 100% Lee');
    await seedUser(stack.database.db, 'Discount 1000 Park');
    const browser = new AdminBrowser(base);
    await browser.login();
    const page = await (await browser.get(`/members?q=${encodeURIComponent('100%')}`)).text();
    expect(page).toContain('Discount 100% Lee');
    expect(page).not.toContain('Discount 1000 Park');
    const underscore = await (await browser.get(`/members?q=${encodeURIComponent('_')}`)).text();
    expect(underscore).toContain('No member matches');
  });

  it('sends security headers on every response, and the pages hold no script', async () => {
    const browser = new AdminBrowser(base);
    const responses = [await browser.get('/login'), await fetch(`${base}/runs`)];
    await browser.login();
    responses.push(await browser.get('/schedules'), await browser.get('/admin.css'));
    for (const r of responses) {
      expect(r.headers.get('content-security-policy')).toBe(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      );
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('referrer-policy')).toBe('same-origin');
    }
    expect(await (await browser.get('/schedules')).text()).not.toMatch(/<script|\son\w+=/i);
  });

  it('the html helper escapes every interpolated value unless it is html itself', () => {
    const name = `<b>"O'Neil" & co</b>\``;
    expect(String(html`<td title="${name}">${name}</td>`)).toBe(
      '<td title="&lt;b&gt;&quot;O&#39;Neil&quot; &amp; co&lt;/b&gt;&#96;">&lt;b&gt;&quot;O&#39;Neil&quot; &amp; co&lt;/b&gt;&#96;</td>',
    );
    expect(String(html`<p>${[html`<i>${'<'}</i>`, null, undefined, false, 0]}</p>`)).toBe(
      '<p><i>&lt;</i>0</p>',
    );
  });
});

/** Rows of the tables a bulk pass form could write (run records are left out: schedules write them every minute). */
async function domainRowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of [
    'users',
    'user_groups',
    'user_group_members',
    'packages',
    'bulk_passes',
    'passes',
    'bookings',
    'notifications',
    'statistics',
  ]) {
    const [row] = await stack.database.db.execute<{ n: number }>(
      sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)}`,
    );
    counts[table] = Number(row!.n);
  }
  return counts;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`' };
const unescapeHtml = (text: string) =>
  text.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_, e: string) => ENTITIES[e]!);
const pageError = (page: string) => {
  const match = /<p class="error" role="alert">([\s\S]*?)<\/p>/.exec(page);
  return match ? unescapeHtml(match[1]!) : undefined;
};
/** The text of each cell of the table row `<tr data-day="...">`. */
const rowCells = (page: string, attribute: string, value: string) => {
  const row = new RegExp(`<tr ${attribute}="${value}"[^>]*>([\\s\\S]*?)</tr>`).exec(page);
  if (!row) return undefined;
  return [...row[1]!.matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((m) =>
    unescapeHtml(m[1]!.replace(/<[^>]*>/g, '')).trim(),
  );
};

describe('admin web: dashboard', () => {
  it('shows per day the numbers `ptpass stats show --json` prints, and a day the job never computed as such', async () => {
    const db = stack.database.db;
    const member = await seedUser(db, 'Stats Member');
    const pkg = await seedPackage(db, 10, 30);
    const pass = await seedStatsPass(db, {
      userId: member,
      packageId: pkg,
      createdAt: seoul('2026-02-01 09:00'),
      startedAt: seoul('2026-02-01 09:00'),
      // Ends on the 3rd with 4 of 10 sessions left: that day's utilisation is 6 / 10.
      endedAt: seoul('2026-03-03 18:00'),
      remainingCount: 4,
    });
    // 2 March: 2 attended, 1 no-show, 1 cancelled. 3 March: 1 attended, 2 cancelled. 4 March: 3 attended, never computed.
    const book = (at: string, kind: 'attended' | 'no-show' | 'cancelled') =>
      seedStatsBooking(db, {
        userId: member,
        passId: pass,
        startedAt: seoul(at),
        attended: kind === 'attended',
        usedPass: kind === 'attended',
        cancelled: kind === 'cancelled',
      });
    await book('2026-03-02 07:00', 'attended');
    await book('2026-03-02 19:00', 'attended');
    await book('2026-03-02 20:00', 'no-show');
    await book('2026-03-02 21:00', 'cancelled');
    await book('2026-03-03 10:00', 'attended');
    await book('2026-03-03 11:00', 'cancelled');
    await book('2026-03-03 23:30', 'cancelled');
    for (const at of ['2026-03-04 08:00', '2026-03-04 09:00', '2026-03-04 10:00']) await book(at, 'attended');
    const launched = await launchJob(
      { client: stack.client, db, taskQueue: stack.taskQueue },
      {
        job: 'statistics',
        asOf: new Date(Math.floor(Date.now() / 1000) * 1000),
        params: { from: '2026-03-02', to: '2026-03-03' },
        wait: true,
      },
    );
    expect(launched.outcome).toBe('completed');

    const browser = new AdminBrowser(base);
    await browser.login();
    const response = await browser.get('/dashboard?end=2026-03-04&days=3');
    expect(response.status).toBe(200);
    const page = await response.text();
    const cli = await ptpass(
      ['stats', 'show', '--from', '2026-03-02', '--to', '2026-03-04', '--json'],
      stack.env,
    );
    expect(cli.code).toBe(0);
    const shown = cli.json<{
      rows: Array<Record<string, number | string | null>>;
      missingDays: string[];
    }>();
    expect(shown.rows.map((r) => r.period)).toEqual(['2026-03-02', '2026-03-03']);
    const pct = (v: number | string | null | undefined) =>
      v === null || v === undefined ? '-' : `${(Number(v) * 100).toFixed(1)}%`;
    for (const r of shown.rows) {
      // Day, bookings, attended, no-shows, attendance, cancelled, deducted, ending, sold, used, utilisation.
      expect(rowCells(page, 'data-day', String(r.period)), String(r.period)).toEqual([
        r.period,
        ...[r.bookings, r.attended, r.noShows].map(String),
        pct(r.attendanceRate),
        ...[r.cancelled, r.sessionsDeducted, r.endingPasses, r.endingSessionsSold, r.endingSessionsUsed].map(
          String,
        ),
        pct(r.utilisation),
      ]);
      // The chart's bars carry the same numbers.
      expect(page).toContain(
        `data-day="${r.period}" data-computed="true" data-attended="${r.attended}" data-no-shows="${r.noShows}" data-cancelled="${r.cancelled}"`,
      );
    }
    expect(rowCells(page, 'data-day', '2026-03-02')!.slice(1, 7)).toEqual(['3', '2', '1', '66.7%', '1', '2']);
    expect(rowCells(page, 'data-day', '2026-03-03')!.slice(-4)).toEqual(['1', '10', '6', '60.0%']);
    expect(page).toContain('data-utilisation="60.0%"');

    // The 4th was never computed: not zeros, but "not computed", with the command that computes it.
    expect(shown.missingDays).toEqual(['2026-03-04']);
    expect(rowCells(page, 'data-day', '2026-03-04')).toEqual(['2026-03-04', 'not computed yet']);
    expect(page).toContain('data-day="2026-03-04" data-computed="false"');
    expect(page).toContain('ptpass job run statistics --from 2026-03-04 --to 2026-03-04 --wait');
    // Totals of the computed days: 4 bookings (cancelled ones are not bookings), 3 attended, 1 no-show,
    // 3 cancelled; rates from the sums.
    expect(rowCells(page, 'data-day', 'total')).toEqual([
      '2 computed days',
      '4',
      '3',
      '1',
      '75.0%',
      '3',
      '3',
      '1',
      '10',
      '6',
      '60.0%',
    ]);
    expect(page).not.toMatch(/<script|\son\w+=/i);
  });

  it('validates the date picker on the server, and defaults to the 14 days up to yesterday', async () => {
    const browser = new AdminBrowser(base);
    await browser.login();
    for (const [query, message] of [
      ['end=2026-02-30', 'the last day must be a calendar day YYYY-MM-DD, e.g. 2026-11-21'],
      ['end=yesterday', 'the last day must be a calendar day YYYY-MM-DD, e.g. 2026-11-21'],
      ['days=0', 'days must be a whole number from 1 to 92'],
      ['days=93', 'days must be a whole number from 1 to 92'],
      ['days=-1', 'days must be a whole number from 1 to 92'],
      ['days=1.5', 'days must be a whole number from 1 to 92'],
      // A date picker offers 9999-12-31: a refusal with the form, not a 500 from the day arithmetic.
      ['end=9999-12-31&days=3', 'the last day must be from 2000-01-01 to 2100-12-31'],
      ['end=1999-12-31', 'the last day must be from 2000-01-01 to 2100-12-31'],
    ]) {
      const response = await browser.get(`/dashboard?${query}`);
      expect(response.status, query).toBe(400);
      const page = await response.text();
      expect(pageError(page), query).toBe(message);
      expect(page, query).not.toContain('<svg');
    }
    const page = await (await browser.get('/dashboard')).text();
    // The default range ends today.
    const today = businessDayOf(new Date(), 'Asia/Seoul');
    expect(page).toContain(`${addDays(today, -13)} to ${today}`);
    expect(page.match(/<tr data-day="\d{4}-\d{2}-\d{2}"/g)).toHaveLength(14);
    // The first and last accepted days, with the longest range.
    for (const [end, from] of [
      ['2100-12-31', '2100-10-01'],
      ['2000-01-01', '1999-10-02'],
    ]) {
      const edge = await browser.get(`/dashboard?end=${end}&days=92`);
      expect(edge.status, end).toBe(200);
      expect(await edge.text(), end).toContain(`${from} to ${end}`);
    }
    expect(await (await browser.get('/dashboard')).text()).toContain(
      'type="date" name="end" value="' + today + '" min="2000-01-01" max="2100-12-31"',
    );
  });
});

describe('admin web: bulk passes', () => {
  it('refuses what `ptpass grant` refuses, with the same message, the entered values kept, and nothing written', async () => {
    const db = stack.database.db;
    const limited = await seedPackage(db, 10, 30);
    const unlimited = await seedPackage(db, null, 30);
    const members = [await seedUser(db, 'Grant A'), await seedUser(db, 'Grant B')];
    const group = await seedGroup(db, members, 'Morning regulars');
    const browser = new AdminBrowser(base);
    await browser.login();
    const csrf = await browser.csrfFrom('/bulk-passes');
    const valid = {
      package: String(limited),
      group: String(group),
      start: '2031-05-01T10:00',
      end: '2031-06-01T10:00',
      count: '5',
      at: '2031-04-30T09:00',
    };
    const cases: Array<[string, Record<string, string>, string[]]> = [
      ['end before the start', { end: '2031-04-01T10:00' }, ['--end', '2031-04-01T10:00']],
      ['unknown package', { package: '999999' }, ['--package', '999999']],
      ['count 0', { count: '0' }, ['--count', '0']],
      ['count below 0', { count: '-3' }, ['--count', '-3']],
      ['count not a number', { count: '2.5' }, ['--count', '2.5']],
      ['unlimited package with a count', { package: String(unlimited) }, ['--package', String(unlimited)]],
      ['unknown group', { group: '888888' }, ['--group', '888888']],
      ['malformed time', { start: 'next monday' }, ['--start', 'next monday']],
      [
        'end already past',
        { start: '2020-01-01T10:00', end: '2020-02-01T10:00' },
        ['--start', '2020-01-01T10:00', '--end', '2020-02-01T10:00'],
      ],
    ];
    const before = await domainRowCounts();
    for (const [label, change, cliChange] of cases) {
      const form = { ...valid, ...change };
      const response = await browser.post('/bulk-passes', { csrf, ...form });
      expect(response.status, label).toBe(400);
      const page = await response.text();
      // `ptpass grant` with the same options prints the same message (and exits 2).
      const options = { ...valid } as Record<string, string>;
      for (let i = 0; i < cliChange.length; i += 2) options[cliChange[i]!.slice(2)] = cliChange[i + 1]!;
      const cli = await ptpass(
        ['grant', ...Object.entries(options).map(([k, v]) => `--${k}=${v}`)],
        stack.env,
      );
      expect(cli.code, label).toBe(2);
      expect(`ptpass grant: ${pageError(page)}\n`, label).toBe(cli.stderr);
      // The form comes back as entered.
      for (const name of ['start', 'end', 'count', 'at'] as const)
        expect(page, `${label}: ${name}`).toContain(`name="${name}" value="${form[name]}"`);
      if (form.package === String(limited))
        expect(page, label).toContain(`<option value="${limited}" selected>`);
      expect(await domainRowCounts(), label).toEqual(before);
    }
    expect(pageError(await (await browser.post('/bulk-passes', { csrf, ...valid, count: '0' })).text())).toBe(
      "--count must be a whole number from 1 to 2147483647 (got '0')",
    );
    const unknown = await browser.post('/bulk-passes', { csrf, ...valid, package: '999999' });
    expect(pageError(await unknown.text())).toBe('package 999999 does not exist');

    // A forged post — no token, a wrong one, or another site — is refused before anything is read.
    for (const [label, form, headers] of [
      ['no token', { ...valid }, {}],
      ['wrong token', { ...valid, csrf: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, {}],
      ['another site', { ...valid, csrf }, { Origin: 'https://evil.example' }],
    ] as const) {
      const response = await browser.post('/bulk-passes', form, headers);
      expect(response.status, label).toBe(403);
      expect(await response.text(), label).toMatch(/nothing was changed/);
    }
    expect(await domainRowCounts()).toEqual(before);
  });

  it('creates a bulk pass (POST-redirect-GET) that lists newest first, and its workflow issues it', async () => {
    const db = stack.database.db;
    const pkg = await seedPackage(db, 8, 30);
    const active = [await seedUser(db, 'Issue A'), await seedUser(db, 'Issue B')];
    const lapsed = await seedUser(db, 'Issue C', 'INACTIVE');
    const group = await seedGroup(db, [...active, lapsed], 'Evening group');
    const browser = new AdminBrowser(base);
    await browser.login();
    const csrf = await browser.csrfFrom('/bulk-passes');

    // For later: kept for the schedule to issue on 30 April 2031, 09:00 in Seoul.
    const later = await browser.post('/bulk-passes', {
      csrf,
      package: String(pkg),
      group: String(group),
      start: '2031-05-01T10:00',
      end: '',
      count: '5',
      at: '2031-04-30T09:00',
    });
    expect(later.status).toBe(303);
    const laterId = Number(/^\/bulk-passes\?created=(\d+)$/.exec(later.headers.get('location')!)![1]);
    const [laterRow] = await db.select().from(bulkPasses).where(eq(bulkPasses.id, laterId));
    expect(laterRow).toMatchObject({
      packageId: pkg,
      groupId: group,
      status: 'READY',
      count: 5,
      startedAt: seoul('2031-05-01 10:00'),
      endedAt: null,
      issueAt: seoul('2031-04-30 09:00'),
      issuedCount: 0,
    });
    const listed = await (await browser.get(later.headers.get('location')!)).text();
    expect(listed).toContain(`Bulk pass ${laterId} created: its workflow issues it at 2031-04-30 09:00`);
    expect(rowCells(listed, 'data-bulk-pass', String(laterId))).toEqual([
      String(laterId),
      'READY',
      `pkg 8/30 (${pkg})`,
      `Evening group (${group})`,
      '2031-04-30 09:00',
      '5',
      '2031-05-01 10:00',
      'package period',
      '0',
      '0',
      'not yet',
    ]);

    // Due now: its workflow issues it at once — one pass per ACTIVE member, the INACTIVE one counted.
    const now = await browser.post('/bulk-passes', { csrf, package: String(pkg), group: String(group) });
    expect(now.status).toBe(303);
    const nowId = Number(/created=(\d+)$/.exec(now.headers.get('location')!)![1]);
    expect(nowId).toBeGreaterThan(laterId);
    const page = await (await browser.get('/bulk-passes')).text();
    expect(page.indexOf(`data-bulk-pass="${nowId}"`)).toBeLessThan(
      page.indexOf(`data-bulk-pass="${laterId}"`),
    );
    const completed = await waitFor(
      async () => {
        const [row] = await db.select().from(bulkPasses).where(eq(bulkPasses.id, nowId));
        return row?.status === 'COMPLETED' && row;
      },
      'the bulk pass workflow to issue it',
      150_000,
    );
    expect(completed).toMatchObject({ issuedCount: 2, skippedCount: 1, count: null });
    const issued = await db.select().from(passes).where(eq(passes.bulkPassId, nowId));
    expect(issued.map((p) => p.userId).sort()).toEqual([...active].sort());
    expect(issued.every((p) => p.remainingCount === 8)).toBe(true);
    const after = rowCells(
      await (await browser.get('/bulk-passes')).text(),
      'data-bulk-pass',
      String(nowId),
    )!;
    expect([after[1], after[8], after[9]]).toEqual(['COMPLETED', '2', '1']);
    // The later one is still waiting for its time, in a workflow of its own.
    const [stillLater] = await db.select().from(bulkPasses).where(eq(bulkPasses.id, laterId));
    expect(stillLater?.status).toBe('READY');
    const waiting = stack.client.workflow.getHandle(`issue-bulk-passes-2031-04-30T00:00:00Z-bulk-${laterId}`);
    expect((await waiting.describe()).status.name).toBe('RUNNING');
    await waiting.terminate('test over');
  });
  it('the group choices count each group’s ACTIVE members and all its members', async () => {
    const db = stack.database.db;
    const active = [];
    for (let i = 0; i < 5; i++) active.push(await seedUser(db, `Yoga ${i}`));
    const inactive = [];
    for (let i = 0; i < 3; i++) inactive.push(await seedUser(db, `Lapsed yoga ${i}`, 'INACTIVE'));
    const yoga = await seedGroup(db, [...active, ...inactive], 'Evening Yoga');
    const pilates = await seedGroup(db, [active[0]!, active[1]!, inactive[0]!], 'Morning Pilates');
    const empty = await seedGroup(db, [], 'Nobody yet');
    const browser = new AdminBrowser(base);
    await browser.login();
    const page = await (await browser.get('/bulk-passes')).text();
    const groups = /<select name="group"[\s\S]*?<\/select>/.exec(page)![0];
    const option = (id: number) =>
      unescapeHtml(new RegExp(`<option value="${id}">([^<]*)</option>`).exec(groups)![1]!);
    expect(option(yoga)).toBe(`Evening Yoga (${yoga}: 5 active of 8)`);
    expect(option(pilates)).toBe(`Morning Pilates (${pilates}: 2 active of 3)`);
    expect(option(empty)).toBe(`Nobody yet (${empty}: 0 active of 0)`);
  });

  it('refuses a time outside 2000-01-01 to 2100-12-31, keeping the form and writing nothing', async () => {
    const db = stack.database.db;
    const pkg = await seedPackage(db, 10, 30);
    const group = await seedGroup(db, [await seedUser(db, 'Far A')], 'Far future');
    const browser = new AdminBrowser(base);
    await browser.login();
    const csrf = await browser.csrfFrom('/bulk-passes');
    const before = await domainRowCounts();
    for (const [field, text] of [
      ['start', '9999-12-31T23:59'],
      ['end', '2101-01-01T00:00'],
      ['at', '1999-12-31T23:59'],
    ] as const) {
      const form = { package: String(pkg), group: String(group), start: '', end: '', count: '', at: '' };
      form[field] = text;
      const response = await browser.post('/bulk-passes', { csrf, ...form });
      expect(response.status, field).toBe(400);
      const page = await response.text();
      expect(pageError(page), field).toBe(
        `--${field} '${text}' must be a time from 2000-01-01 to 2100-12-31 (read in Asia/Seoul)`,
      );
      expect(page, field).toContain(`name="${field}" value="${text}"`);
    }
    expect(await domainRowCounts()).toEqual(before);
  });

  it('warns on the page when the issue-bulk-passes schedule is paused', async () => {
    const browser = new AdminBrowser(base);
    await browser.login();
    expect(await (await browser.get('/bulk-passes')).text()).not.toContain('class="warning"');
    const handle = stack.client.schedule.getHandle('issue-bulk-passes');
    await handle.pause('stocktaking');
    try {
      const page = await (await browser.get('/bulk-passes')).text();
      expect(page).toContain(
        'The issue-bulk-passes schedule is PAUSED (stocktaking): its hourly safety net is off, and a bulk pass whose own workflow did not start is issued only after it is resumed on the Schedules page.',
      );
    } finally {
      await handle.unpause();
    }
  });
});

describe('ptpass admin', () => {
  it('refuses to serve without ADMIN_PASSWORD, and never echoes a bad one', async () => {
    const { ADMIN_PASSWORD: _unset, ...env } = stack.env;
    const refused = await ptpass(['admin'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      'ptpass admin: ADMIN_PASSWORD is not set: `ptpass admin` serves no page without a password (at least 12 characters)\n',
    );
    const short = await ptpass(['admin'], { ...env, ADMIN_PASSWORD: 'hunter2' });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('ADMIN_PASSWORD must be at least 12 characters (got 7 characters)');
    expect(short.stderr).not.toContain('hunter2');
    const secret = await ptpass(['admin'], { ...env, ADMIN_SESSION_SECRET: 'short-secret' });
    expect(secret.code).toBe(2);
    expect(secret.stderr).not.toContain('short-secret');
  });

  it('serves the pages as a process of its own, and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'client.ts', 'admin'], {
      cwd: ROOT,
      env: { ...process.env, ...stack.env, ADMIN_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(
        async () =>
          output.includes(`Admin web on http://127.0.0.1:${port} (user '${ADMIN_USER}')`) ||
          (child.exitCode !== null && Promise.reject(new Error(output))),
        'ptpass admin to listen',
      );
      const browser = new AdminBrowser(`http://127.0.0.1:${port}`);
      expect((await browser.get('/schedules')).status).toBe(303);
      expect((await browser.login()).status).toBe(303);
      const schedules = await (await browser.get('/schedules')).text();
      expect(schedules).toContain('data-schedule="pass-lifecycle"');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('SIGTERM: stopping the admin web');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('admin web: holds, closures and skipped items', () => {
  it('adds and ends a hold, refuses a bad one with the CLI message, and adds a closure whose passes are extended', async () => {
    const db = stack.database.db;
    const tz = 'Asia/Seoul';
    const today = businessDayOf(new Date(), tz);
    const member = await seedUser(db, 'Hold Member');
    const pkg = await seedPackage(db, 10, 30);
    const [pass] = await db
      .insert(passes)
      .values({
        userId: member,
        packageId: pkg,
        status: 'PROGRESSED',
        remainingCount: 5,
        startedAt: new Date(Date.now() - 5 * 86_400_000),
        endedAt: new Date(Date.now() + 20 * 86_400_000),
      })
      .returning();
    const browser = new AdminBrowser(base);
    await browser.login();
    const csrf = await browser.csrfFrom('/holds');

    const bad = await browser.post('/holds', {
      csrf,
      pass: String(pass!.id),
      from: addDays(today, 3),
      to: addDays(today, 1),
      reason: 'x',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain(`--to ${addDays(today, 1)} is before --from ${addDays(today, 3)}`);
    const [none] = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM pass_holds`);
    expect(none!.n).toBe(0);

    const added = await browser.post('/holds', {
      csrf,
      pass: String(pass!.id),
      from: today,
      to: addDays(today, 4),
      reason: '출장',
    });
    expect(added.status).toBe(303);
    const list = await (await browser.get('/holds')).text();
    expect(list).toContain('출장');
    expect(list).toContain(`admin:${ADMIN_USER}`);
    const holdId = Number(/data-hold="(\d+)"/.exec(list)![1]);
    const [held] = await db.select().from(passes).where(eq(passes.id, pass!.id));
    expect(held!.endedAt!.getTime() - pass!.endedAt!.getTime()).toBe(5 * 86_400_000);

    // Ended today: usable again today, so all five days come back off the end.
    expect((await browser.post(`/holds/${holdId}/end`, { csrf })).status).toBe(303);
    const [ended] = await db.select().from(passes).where(eq(passes.id, pass!.id));
    expect(ended!.endedAt).toEqual(pass!.endedAt);

    // A closure in the future: the form starts its apply-closure run, which extends the pass.
    const from = addDays(today, 10);
    const closure = await browser.post('/closures', {
      csrf,
      from,
      to: addDays(today, 11),
      reason: '설 연휴',
    });
    expect(closure.status).toBe(303);
    const closureId = Number(/added=(\d+)/.exec(closure.headers.get('location')!)![1]);
    await waitFor(async () => {
      const [row] = await db.execute<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM closure_extensions WHERE closure_id = ${closureId}`,
      );
      return row!.n >= 1;
    }, 'the closure to extend the pass');
    const [extended] = await db.select().from(passes).where(eq(passes.id, pass!.id));
    expect(extended!.endedAt!.getTime() - pass!.endedAt!.getTime()).toBe(2 * 86_400_000);
    const overlapping = await browser.post('/closures', {
      csrf,
      from: addDays(today, 11),
      to: addDays(today, 12),
      reason: 'y',
    });
    expect(overlapping.status).toBe(400);
    expect(await overlapping.text()).toContain('the studio is already closed from');
    const booking = await seedStatsBooking(db, {
      userId: member,
      passId: pass!.id,
      startedAt: seoul(`${from} 19:00`),
    });
    const closurePageText = await (await browser.get(`/closures/${closureId}`)).text();
    expect(closurePageText).toContain(`data-booking="${booking}"`);
    expect(closurePageText).toContain(`href="/members/${member}"`);
  });

  it('refuses a held or closed day outside 2000-01-01 to 2100-12-31 and writes nothing', async () => {
    const db = stack.database.db;
    const member = await seedUser(db, 'Far Hold');
    const pkg = await seedPackage(db, 10, 30);
    const [pass] = await db
      .insert(passes)
      .values({
        userId: member,
        packageId: pkg,
        status: 'PROGRESSED',
        remainingCount: 5,
        startedAt: new Date(Date.now() - 86_400_000),
        endedAt: new Date(Date.now() + 20 * 86_400_000),
      })
      .returning();
    const browser = new AdminBrowser(base);
    await browser.login();
    const csrf = await browser.csrfFrom('/holds');
    const count = async () => {
      const [row] = await db.execute<{ n: number }>(sql`
        SELECT (SELECT count(*) FROM pass_holds) + (SELECT count(*) FROM studio_closures)::int AS n`);
      return Number(row!.n);
    };
    const before = await count();
    const hold = await browser.post('/holds', {
      csrf,
      pass: String(pass!.id),
      from: '9999-12-30',
      to: '9999-12-31',
      reason: 'far',
    });
    expect(hold.status).toBe(400);
    expect(pageError(await hold.text())).toBe(
      '--from 9999-12-30 must be a day from 2000-01-01 to 2100-12-31',
    );
    for (const [from, to, message] of [
      ['1999-12-30', '2000-01-02', '--from 1999-12-30 must be a day from 2000-01-01 to 2100-12-31'],
      ['2100-12-30', '2101-01-02', '--to 2101-01-02 must be a day from 2000-01-01 to 2100-12-31'],
    ]) {
      const closure = await browser.post('/closures', { csrf, from: from!, to: to!, reason: 'far' });
      expect(closure.status, from).toBe(400);
      expect(pageError(await closure.text()), from).toBe(message);
    }
    expect(await count()).toBe(before);
    expect(await (await browser.get('/holds')).text()).toContain(
      'type="date" name="from" value="" min="2000-01-01" max="2100-12-31"',
    );
  });

  it('a run page lists skipped items in number order, linked to the member, booking and pass they concern', async () => {
    const db = stack.database.db;
    const member = await seedUser(db, 'Skipped Member');
    const pkg = await seedPackage(db, 1, 30);
    const asOf = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    const [pass] = await db
      .insert(passes)
      .values({
        userId: member,
        packageId: pkg,
        status: 'PROGRESSED',
        remainingCount: 0,
        startedAt: new Date(asOf.getTime() - 86_400_000),
      })
      .returning();
    // Bookings with IDs that sort differently as text and as numbers (e.g. 9 and 10, or 99 and 100).
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push(
        await seedStatsBooking(db, {
          userId: member,
          passId: pass!.id,
          startedAt: new Date(asOf.getTime() - (3 + i) * 3_600_000),
        }),
      );
    }
    const run = await launchJob(
      { client: stack.client, db, taskQueue: stack.taskQueue },
      { job: 'deduct-sessions', asOf, wait: true, settings: { steps: { deduct: { skipLimit: 1000 } } } },
    );
    const browser = new AdminBrowser(base);
    await browser.login();
    const page = await (await browser.get(`/runs/${run.runId}`)).text();
    const shown = [...page.matchAll(/data-skip="(\d+)"/g)].map((m) => Number(m[1]));
    const mine = shown.filter((id) => ids.includes(id));
    expect(mine).toEqual([...ids].sort((a, b) => a - b));
    expect(shown).toEqual([...shown].sort((a, b) => a - b));
    expect(page).toContain(`<a href="/members/${member}#booking-${ids[0]}">booking ${ids[0]}</a>`);
    expect(page).toContain(`<a href="/members/${member}#pass-${pass!.id}">pass ${pass!.id}</a>`);
  });
});
