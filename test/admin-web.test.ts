import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionKeeper } from '../src/admin/auth.ts';
import { html } from '../src/admin/html.ts';
import { PROTECTED_PAGES, startAdminServer } from '../src/admin/server.ts';
import { loadConfig } from '../src/config.ts';
import { jobRuns } from '../src/db/schema.ts';
import { createLogger } from '../src/logger.ts';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  AdminBrowser,
  type AdminStack,
  startAdminStack,
} from './helpers/admin.ts';
import { freePort, ptpass } from './helpers/cli.ts';
import { seedUser } from './helpers/seed.ts';
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

  it('Dashboard and Bulk passes say plainly that they arrive with their features, with no numbers', async () => {
    const browser = new AdminBrowser(base);
    await browser.login();
    const dashboard = await (await browser.get('/dashboard')).text();
    expect(dashboard).toContain('arrives with the <strong>statistics</strong> feature');
    const bulk = await (await browser.get('/bulk-passes')).text();
    expect(bulk).toContain('arrives\n  with the <strong>bulk issuance</strong> feature');
    for (const page of [dashboard, bulk]) expect(page.replace(/<[^>]*>/g, '')).not.toMatch(/\d+%/);
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
