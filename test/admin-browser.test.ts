import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChartDay, dailyChart } from '../src/admin/chart.ts';
import { formatTime } from '../src/admin/layout.ts';
import { launchJob } from '../src/client/launch-job.ts';
import type { StatisticsRow } from '../src/db/queries/statistics.ts';
import { bookings, bulkPasses, jobRuns } from '../src/db/schema.ts';
import { seedDemoStudio } from '../src/stack/demo-seed.ts';
import { addDays, businessDayOf } from '../src/time.ts';
import { ADMIN_PASSWORD, ADMIN_USER, type AdminStack, startAdminStack } from './helpers/admin.ts';
import {
  seedBooking,
  seedBulkPass,
  seedGroup,
  seedPackage,
  seedPass,
  seedUser,
  uniqueAsOf,
} from './helpers/seed.ts';
import { seedStatsPass, seoul } from './helpers/statistics.ts';

/** The admin web in a real browser: Debian's Chromium driven by playwright-core. */

const CHROMIUM = '/usr/bin/chromium';
const RESULTS = fileURLToPath(new URL('../test-results/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`admin browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

let stack: AdminStack;
let browser: Browser;
let page: Page;
const hour = 3_600_000;

describe.skipIf(!hasChromium)('admin web in Chromium', () => {
  beforeAll(async () => {
    stack = await startAdminStack('admin-browser');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    mkdirSync(RESULTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('a page asks for the login first, then shows the run a job just made, linked to the Temporal Web UI', async () => {
    // A pass that the lifecycle run will activate, so the run has something to count.
    const asOf = uniqueAsOf();
    const fodder = await seedUser(stack.database.db, 'Run Fodder');
    const pkg = await seedPackage(stack.database.db);
    await seedPass(stack.database.db, {
      userId: fodder,
      packageId: pkg,
      startedAt: new Date(asOf.getTime() - hour),
      // Far ahead of any as-of: a pass ending within the last weeks would add a utilisation point to the
      // dashboard test's chart (asOf + 100 days did, for an as-of drawn in August).
      endedAt: new Date(Date.UTC(2031, 0, 1)),
    });
    const launched = await launchJob(
      { client: stack.client, db: stack.database.db, taskQueue: stack.taskQueue },
      { job: 'pass-lifecycle', asOf, wait: true },
    );
    expect(launched.outcome).toBe('completed');

    await page.goto(`${stack.admin.url}/runs`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('Password').fill('not the password');
    await page.getByLabel('User').fill(ADMIN_USER);
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.locator('.error').textContent()).toBe('Wrong user or password.');
    await page.getByLabel('User').fill(ADMIN_USER);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/runs$/);

    const row = page.locator(`tr[data-run="${launched.runId}"]`);
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator('td').allTextContents();
    // Started, job, as of, status, read, written, skipped, took, error, link.
    expect(cells[1]).toBe('pass-lifecycle');
    expect(cells[2]).toBe(formatTime(asOf, 'Asia/Seoul'));
    expect(cells[3]).toBe('COMPLETED');
    // The counts are the run record's: the one READY pass was read and activated.
    const [record] = await stack.database.db.select().from(jobRuns).where(eq(jobRuns.id, launched.runId));
    expect(record).toMatchObject({ readCount: 1, writeCount: 1, skipCount: 0 });
    expect(cells.slice(4, 7)).toEqual(['1', '1', '0']);
    expect(await row.getByRole('link', { name: 'workflow' }).getAttribute('href')).toBe(
      `http://temporal-ui.test:8233/namespaces/${stack.namespace}/workflows/${encodeURIComponent(launched.workflowId)}/${launched.runId}/history`,
    );
    await page.screenshot({ path: `${RESULTS}admin-runs.png`, fullPage: true });

    // The run's own page lists its steps.
    await row.locator('td').first().getByRole('link').click();
    await page.waitForURL(new RegExp(`/runs/${launched.runId}$`));
    const steps = await page.locator('table').first().locator('tbody tr td:first-child').allTextContents();
    expect(steps).toEqual(['activate', 'expire']);
  });

  it('pauses and resumes a schedule with its buttons', async () => {
    await page.goto(`${stack.admin.url}/schedules`);
    const row = page.locator('tr[data-schedule="pass-lifecycle"]');
    expect(await row.locator('[data-state]').textContent()).toBe('active');
    await row.getByRole('textbox').fill('studio closed for holidays');
    await row.getByRole('button', { name: 'Pause' }).click();
    await page.waitForURL(/done=paused/);
    expect(await page.getByRole('status').textContent()).toBe('pass-lifecycle: paused');
    expect(await row.locator('[data-state]').textContent()).toBe('PAUSED');
    expect(await row.textContent()).toContain('studio closed for holidays');
    const pausedState = (await stack.client.schedule.getHandle('pass-lifecycle').describe()).state;
    expect(pausedState).toMatchObject({ paused: true, note: 'studio closed for holidays' });
    // The other schedule is untouched.
    expect(await page.locator('tr[data-schedule="prune-run-records"] [data-state]').textContent()).toBe(
      'active',
    );

    await row.getByRole('button', { name: 'Resume' }).click();
    await page.waitForURL(/done=resumed/);
    expect(await row.locator('[data-state]').textContent()).toBe('active');
    expect((await stack.client.schedule.getHandle('pass-lifecycle').describe()).state.paused).toBe(false);
    await page.screenshot({ path: `${RESULTS}admin-schedules.png`, fullPage: true });
  });

  it('finds a member and shows their passes with the sessions upcoming bookings reserve', async () => {
    const now = Date.now();
    const db = stack.database.db;
    const member = await seedUser(db, 'Kim Minjun');
    const pkg = await seedPackage(db, 10, 60);
    const pt = await seedPass(db, {
      userId: member,
      packageId: pkg,
      status: 'PROGRESSED',
      remainingCount: 7,
      startedAt: new Date(now - 10 * 24 * hour),
      endedAt: new Date(now + 50 * 24 * hour),
    });
    const old = await seedPass(db, {
      userId: member,
      packageId: pkg,
      status: 'EXPIRED',
      remainingCount: 0,
      startedAt: new Date(now - 100 * 24 * hour),
      endedAt: new Date(now - 40 * 24 * hour),
      expiredAt: new Date(now - 40 * 24 * hour),
    });
    const tomorrow = new Date(now + 24 * hour);
    // Reserved: READY bookings whose class has not ended (one is going on right now).
    await seedBooking(db, {
      userId: member,
      passId: pt,
      startedAt: tomorrow,
      endedAt: new Date(tomorrow.getTime() + hour),
    });
    await seedBooking(db, {
      userId: member,
      passId: pt,
      startedAt: new Date(now - 0.5 * hour),
      endedAt: new Date(now + 0.5 * hour),
    });
    // Not reserved: cancelled, already ended (deduction pending), completed.
    await seedBooking(db, {
      userId: member,
      passId: pt,
      status: 'CANCELLED',
      startedAt: tomorrow,
      endedAt: new Date(tomorrow.getTime() + hour),
    });
    await seedBooking(db, {
      userId: member,
      passId: pt,
      startedAt: new Date(now - 3 * hour),
      endedAt: new Date(now - 2 * hour),
    });
    await seedBooking(db, {
      userId: member,
      passId: pt,
      status: 'COMPLETED',
      startedAt: new Date(now - 30 * hour),
      endedAt: new Date(now - 29 * hour),
    });

    await page.goto(`${stack.admin.url}/members`);
    await page.getByLabel('Name or ID').fill('minjun');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=minjun/);
    await page.getByRole('link', { name: 'Kim Minjun' }).click();
    await page.waitForURL(new RegExp(`/members/${member}$`));
    expect(await page.locator('h1').textContent()).toBe('Kim Minjun');

    const passRow = page.locator(`tr[data-pass="${pt}"]`);
    expect(await passRow.locator('[data-remaining]').textContent()).toBe('7');
    expect(await passRow.locator('[data-reserved]').textContent()).toBe('2');
    expect(await passRow.locator('[data-free]').textContent()).toBe('5');
    expect(await passRow.textContent()).toContain('PROGRESSED');
    expect(await passRow.textContent()).toContain(formatTime(new Date(now + 50 * 24 * hour), 'Asia/Seoul'));
    const oldRow = page.locator(`tr[data-pass="${old}"]`);
    expect(await oldRow.locator('[data-reserved]').textContent()).toBe('0');
    expect(await oldRow.textContent()).toContain('EXPIRED');
    // Upcoming bookings, in the business time zone.
    const upcoming = await page.locator('table').nth(1).locator('tbody tr').allTextContents();
    expect(upcoming).toHaveLength(2);
    expect(upcoming[1]).toContain(formatTime(tomorrow, 'Asia/Seoul'));
    await page.screenshot({ path: `${RESULTS}admin-member.png`, fullPage: true });

    // Logging out ends it: the page asks for the login again.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/login\?bye=1$/);
    await page.goto(`${stack.admin.url}/members/${member}`);
    expect(new URL(page.url()).pathname).toBe('/login');
  });

  /** The member test logs out at its end; these tests log in again when the page asks for it. */
  async function loggedIn(path: string): Promise<void> {
    await page.goto(`${stack.admin.url}${path}`);
    if (new URL(page.url()).pathname === '/login') {
      await page.getByLabel('User').fill(ADMIN_USER);
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL((url) => url.pathname !== '/login');
    }
  }

  it('creates a bulk pass through the form, and shows the form error for an end before the start', async () => {
    const db = stack.database.db;
    const pkg = await seedPackage(db, 10, 30);
    const members = [await seedUser(db, 'Bulk A'), await seedUser(db, 'Bulk B')];
    const group = await seedGroup(db, members, 'Saturday bootcamp');
    await loggedIn('/bulk-passes');
    await page.locator('select[name="package"]').selectOption(String(pkg));
    await page.locator('select[name="group"]').selectOption(String(group));
    await page.locator('input[name="start"]').fill('2031-05-01T10:00');
    await page.locator('input[name="end"]').fill('2031-04-01T10:00');
    await page.locator('input[name="count"]').fill('5');
    await page.locator('input[name="at"]').fill('2031-04-30T09:00');
    await page.getByRole('button', { name: 'Create bulk pass' }).click();
    await page.waitForLoadState();
    // The message of `ptpass grant` for the same options; the form keeps what was entered.
    expect(await page.getByRole('alert').textContent()).toBe(
      '--end 2031-04-01 10:00:00 (Asia/Seoul) is not after the start 2031-05-01 10:00:00 (Asia/Seoul)',
    );
    expect(await page.locator('input[name="count"]').inputValue()).toBe('5');
    expect(await page.locator('select[name="group"]').inputValue()).toBe(String(group));
    expect(await db.select().from(bulkPasses).where(eq(bulkPasses.groupId, group))).toHaveLength(0);

    await page.locator('input[name="end"]').fill('2031-06-01T10:00');
    await page.getByRole('button', { name: 'Create bulk pass' }).click();
    await page.waitForURL(/\/bulk-passes\?created=\d+$/);
    const [created] = await db.select().from(bulkPasses).where(eq(bulkPasses.groupId, group));
    expect(created).toMatchObject({
      packageId: pkg,
      count: 5,
      status: 'READY',
      startedAt: seoul('2031-05-01 10:00'),
      endedAt: seoul('2031-06-01 10:00'),
      issueAt: seoul('2031-04-30 09:00'),
    });
    expect(await page.getByRole('status').textContent()).toBe(
      `Bulk pass ${created!.id} created: its workflow issues it at 2031-04-30 09:00 (the hourly issue-bulk-passes schedule is the safety net).`,
    );
    const row = page.locator(`tr[data-bulk-pass="${created!.id}"]`);
    expect(await row.locator('[data-status]').textContent()).toBe('READY');
    expect(await row.locator('[data-due]').textContent()).toBe('2031-04-30 09:00');
    expect(await row.locator('[data-count]').textContent()).toBe('5');
    expect(await row.locator('[data-issued]').textContent()).toBe('0');
    expect(await row.textContent()).toContain('Saturday bootcamp');
    // Newest first.
    expect(await page.locator('tr[data-bulk-pass]').first().getAttribute('data-bulk-pass')).toBe(
      String(created!.id),
    );
    await page.screenshot({ path: `${RESULTS}admin-bulk-passes.png`, fullPage: true });
  });

  it('draws the dashboard chart with each day’s numbers, and marks the day the job has not computed', async () => {
    const db = stack.database.db;
    const tz = 'Asia/Seoul';
    // Two weeks ending three days ago: the other tests' bookings (up to 30 hours ago) stay out of them.
    const last = addDays(businessDayOf(new Date(), tz), -3);
    const days = Array.from({ length: 14 }, (_, i) => addDays(last, i - 13));
    const uncomputed = days[9]!;
    const member = await seedUser(db, 'Dashboard Member');
    const pkg = await seedPackage(db, 10, 30);
    const figures = new Map(
      days.map((day, k) => [
        day,
        { attended: 4 + ((k * 7) % 6), noShows: (k * 5) % 3, cancelled: (k * 3) % 4 },
      ]),
    );
    const rows: (typeof bookings.$inferInsert)[] = [];
    for (const [day, f] of figures) {
      const at = (hour: number) => seoul(`${day} ${String(hour).padStart(2, '0')}:00`);
      let hour = 6;
      const add = (count: number, kind: 'attended' | 'no-show' | 'cancelled') => {
        for (let i = 0; i < count; i++, hour++) {
          rows.push({
            userId: member,
            status: kind === 'cancelled' ? 'CANCELLED' : kind === 'attended' ? 'COMPLETED' : 'READY',
            attended: kind === 'attended',
            startedAt: at(hour),
            endedAt: new Date(at(hour).getTime() + 50 * 60_000),
            cancelledAt: kind === 'cancelled' ? at(hour) : null,
          });
        }
      };
      add(f.attended, 'attended');
      add(f.noShows, 'no-show');
      add(f.cancelled, 'cancelled');
    }
    await db.insert(bookings).values(rows);
    // Passes ending on three days give those days a utilisation: 10 sold, 10 - remaining used.
    for (const [k, remaining] of [
      [2, 2],
      [6, 5],
      [12, 1],
    ] as const) {
      await seedStatsPass(db, {
        userId: member,
        packageId: pkg,
        createdAt: seoul(`${days[0]} 05:00`),
        startedAt: seoul(`${days[0]} 05:00`),
        endedAt: seoul(`${days[k]} 23:00`),
        remainingCount: remaining,
      });
    }
    // The statistics job computes every day but one.
    const asOf = new Date(Math.floor(Date.now() / 1000) * 1000);
    for (const [i, range] of [
      { from: days[0]!, to: addDays(uncomputed, -1) },
      { from: addDays(uncomputed, 1), to: last },
    ].entries()) {
      const run = await launchJob(
        { client: stack.client, db, taskQueue: stack.taskQueue },
        { job: 'statistics', asOf: new Date(asOf.getTime() - i * 1000), params: range, wait: true },
      );
      expect(run.outcome).toBe('completed');
    }

    // The date picker chooses the last day and the number of days.
    await loggedIn('/dashboard');
    await page.locator('input[name="end"]').fill(last);
    await page.locator('input[name="days"]').fill('14');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(new RegExp(`end=${last}&days=14$`));
    const chart = page.locator('svg.chart');
    expect(await chart.isVisible()).toBe(true);
    for (const day of days) {
      const g = chart.locator(`g.day[data-day="${day}"]`);
      if (day === uncomputed) {
        expect(await g.getAttribute('data-computed')).toBe('false');
        expect(await g.textContent()).toContain('not computed');
        continue;
      }
      const f = figures.get(day)!;
      expect(await g.getAttribute('data-attended'), day).toBe(String(f.attended));
      expect(await g.getAttribute('data-no-shows'), day).toBe(String(f.noShows));
      expect(await g.getAttribute('data-cancelled'), day).toBe(String(f.cancelled));
      expect(await g.locator('.bar-total').textContent(), day).toBe(
        String(f.attended + f.noShows + f.cancelled),
      );
      expect(await g.locator('.day-label').textContent(), day).toBe(day.slice(5));
      // Drawn to scale: each segment's height is its value times the same pixels per class.
      const attendedBar = await g.locator('rect[data-series="attended"]').boundingBox();
      expect(await g.locator('rect[data-series="attended"]').getAttribute('data-value')).toBe(
        String(f.attended),
      );
      for (const [series, value] of [
        ['noShows', f.noShows],
        ['cancelled', f.cancelled],
      ] as const) {
        const bar = g.locator(`rect[data-series="${series}"]`);
        if (value === 0) {
          expect(await bar.count(), `${day} ${series}`).toBe(0);
          continue;
        }
        expect(await bar.getAttribute('data-value')).toBe(String(value));
        const box = await bar.boundingBox();
        expect(box!.height / attendedBar!.height, `${day} ${series}`).toBeCloseTo(value / f.attended, 1);
      }
    }
    // Utilisation points: (10 - 2) / 10, (10 - 5) / 10, (10 - 1) / 10.
    expect(
      await chart
        .locator('circle[data-utilisation]')
        .evaluateAll((cs) => cs.map((c) => [c.getAttribute('data-day'), c.getAttribute('data-utilisation')])),
    ).toEqual([
      [days[2], '80.0%'],
      [days[6], '50.0%'],
      [days[12], '90.0%'],
    ]);
    expect(await chart.locator('.legend').textContent()).toContain('Not computed yet');
    // The table under it has the same numbers; the missing day says so and how to compute it.
    const first = figures.get(days[0]!)!;
    const cells = await page.locator(`table tr[data-day="${days[0]}"] td`).allTextContents();
    expect(cells.slice(2, 4)).toEqual([String(first.attended), String(first.noShows)]);
    expect(await page.locator(`table tr[data-day="${uncomputed}"]`).textContent()).toContain(
      'not computed yet',
    );
    expect(await page.getByRole('note').textContent()).toContain(
      `ptpass job run statistics --from ${uncomputed} --to ${uncomputed} --wait`,
    );
    await page.screenshot({ path: `${RESULTS}dashboard.png`, fullPage: true });

    // Three days up to the uncomputed one.
    await page.locator('input[name="end"]').fill(uncomputed);
    await page.locator('input[name="days"]').fill('3');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(new RegExp(`end=${uncomputed}&days=3$`));
    expect(
      await chart.locator('g.day').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-day'))),
    ).toEqual(days.slice(7, 10));
  });

  it('long unbroken text (a 200-character URL as a note, a reason, a name) wraps: no page scrolls sideways at 1280 px', async () => {
    const db = stack.database.db;
    const url = (what: string) => `https://example.com/${what}/${'x'.repeat(200)}`.slice(0, 200);
    /** The page fits the window: nothing scrolls sideways and the header bar spans the whole page. */
    const fitsTheWindow = async (what: string) => {
      const sizes = await page.locator('html').evaluate((root) => ({
        scrollWidth: root.scrollWidth,
        clientWidth: root.clientWidth,
        header: root.querySelector('header')!.getBoundingClientRect().width,
      }));
      expect(sizes.scrollWidth, what).toBeLessThanOrEqual(sizes.clientWidth);
      expect(sizes.header, what).toBe(sizes.clientWidth);
    };
    /** Short words in the same table (a status) stay whole, on one line. */
    const oneLine = async (selector: string) => {
      const lines = await page
        .locator(selector)
        .evaluateAll((els) => els.map((e) => e.getClientRects().length));
      expect(lines.length, selector).toBeGreaterThan(0);
      expect(
        lines.every((n) => n === 1),
        selector,
      ).toBe(true);
    };

    // A schedule paused with a 200-character note (the form's limit), through its own form.
    await loggedIn('/schedules');
    const row = page.locator('tr[data-schedule="statistics"]');
    await row.getByRole('textbox').fill(url('note'));
    await row.getByRole('button', { name: 'Pause' }).click();
    await page.waitForURL(/done=paused/);
    try {
      expect(await row.textContent()).toContain(url('note'));
      await page.screenshot({ path: `${RESULTS}admin-schedules-long-note.png`, fullPage: true });
      await fitsTheWindow('schedules');
      const runNow = await row.getByRole('button', { name: 'Run now' }).boundingBox();
      const resume = await row.getByRole('button', { name: 'Resume' }).boundingBox();
      for (const box of [runNow!, resume!]) expect(box.x + box.width).toBeLessThanOrEqual(1280);
      await oneLine('tr[data-schedule] [data-state]');
    } finally {
      await stack.client.schedule.getHandle('statistics').unpause();
    }

    // A hold whose reason is a URL, entered through the form.
    const member = await seedUser(db, `Member${'M'.repeat(190)}`);
    const pkg = await seedPackage(db, 10, 30);
    const pass = await seedPass(db, {
      userId: member,
      packageId: pkg,
      status: 'PROGRESSED',
      startedAt: new Date(Date.now() - 24 * hour),
      endedAt: new Date(Date.now() + 60 * 24 * hour),
    });
    const today = businessDayOf(new Date(), 'Asia/Seoul');
    await loggedIn('/holds');
    await page.locator('input[name="pass"]').fill(String(pass));
    await page.locator('input[name="from"]').fill(addDays(today, 20));
    await page.locator('input[name="to"]').fill(addDays(today, 21));
    await page.locator('input[name="reason"]').fill(url('reason'));
    await page.getByRole('button', { name: 'Put on hold' }).click();
    await page.waitForURL(/done=added/);
    expect(await page.locator('tr[data-hold]').first().textContent()).toContain(url('reason'));
    await fitsTheWindow('holds');
    await page.screenshot({ path: `${RESULTS}admin-holds-long-reason.png`, fullPage: true });

    // A member and a group whose names have no spaces: the member search and the bulk pass form.
    const longGroup = await seedGroup(db, [member], `Group${'G'.repeat(195)}`);
    await seedBulkPass(db, {
      packageId: pkg,
      groupId: longGroup,
      startedAt: new Date(Date.UTC(2031, 0, 1)),
      status: 'COMPLETED',
    });
    await loggedIn(`/members?q=${member}`);
    await fitsTheWindow('members');
    await loggedIn(`/members/${member}`);
    expect(await page.locator('h1').textContent()).toBe(`Member${'M'.repeat(190)}`);
    await fitsTheWindow('member');
    await loggedIn('/bulk-passes');
    await fitsTheWindow('bulk passes');
    await oneLine('tr[data-bulk-pass] [data-status]');
    await page.screenshot({ path: `${RESULTS}admin-bulk-passes-long-names.png`, fullPage: true });
  });
});

/** Pairs of `<text>` in the chart whose rendered boxes overlap (after transforms), as "a | b" strings. */
async function overlappingChartTexts(target: Page): Promise<string[]> {
  return target.locator('svg.chart').evaluate((svg) => {
    const boxes = [...svg.querySelectorAll('text')]
      .map((t) => ({ text: t.textContent ?? '', r: t.getBoundingClientRect() }))
      .filter((b) => b.r.width > 0 && b.r.height > 0);
    const found: string[] = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!.r;
        const b = boxes[j]!.r;
        // Half a pixel of tolerance for anti-aliasing; touching is not overlapping.
        if (
          a.left + 0.5 < b.right &&
          b.left + 0.5 < a.right &&
          a.top + 0.5 < b.bottom &&
          b.top + 0.5 < a.bottom
        )
          found.push(`${boxes[i]!.text} | ${boxes[j]!.text}`);
      }
    }
    return found;
  });
}

describe.skipIf(!hasChromium)('the demo dashboard, and chart labels that never overlap', () => {
  let demo: AdminStack;
  let demoBrowser: Browser;
  let demoPage: Page;
  beforeAll(async () => {
    demo = await startAdminStack('admin-demo');
    demoBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    // The width of the README's screenshot (docs/dashboard.png).
    demoPage = await demoBrowser.newPage({ viewport: { width: 1280, height: 800 } });
    mkdirSync(RESULTS, { recursive: true });
  });
  afterAll(async () => {
    await demoBrowser?.close();
    await demo?.close();
  });

  it('on first start the demo dashboard shows a non-empty chart of the last 14 days, ending today', async () => {
    const seeded = await seedDemoStudio(demo.database.db, new Date(), 'Asia/Seoul');
    expect(seeded.seeded).toBe(true);
    await demoPage.goto(`${demo.admin.url}/dashboard`);
    await demoPage.getByLabel('User').fill(ADMIN_USER);
    await demoPage.getByLabel('Password').fill(ADMIN_PASSWORD);
    await demoPage.getByRole('button', { name: 'Log in' }).click();
    await demoPage.waitForURL((url) => url.pathname === '/dashboard');

    const chart = demoPage.locator('svg.chart');
    expect(await chart.isVisible()).toBe(true);
    const today = businessDayOf(new Date(), 'Asia/Seoul');
    const days = await chart.locator('g.day').evaluateAll((gs) =>
      gs.map((g) => ({
        day: g.getAttribute('data-day'),
        computed: g.getAttribute('data-computed'),
        total: Number(g.getAttribute('data-total') ?? 0),
      })),
    );
    expect(days).toHaveLength(14);
    expect(days.at(-1)!.day).toBe(today);
    // Every day computed by the demo, every one with classes, and bars drawn for them.
    expect(days.every((d) => d.computed === 'true')).toBe(true);
    expect(days.filter((d) => d.total > 0).length).toBeGreaterThanOrEqual(13);
    expect(await chart.locator('rect.bar').count()).toBeGreaterThan(14);
    expect(await chart.locator('circle[data-utilisation]').count()).toBeGreaterThan(3);
    expect(Number(await demoPage.locator('dd[data-total="attended"]').textContent())).toBeGreaterThan(50);
    expect(await demoPage.getByRole('note').count()).toBe(0);
    expect(await overlappingChartTexts(demoPage)).toEqual([]);
    await demoPage.screenshot({ path: `${RESULTS}dashboard-demo.png`, fullPage: true });

    for (const range of ['days=30', 'days=7', 'days=1']) {
      await demoPage.goto(`${demo.admin.url}/dashboard?${range}`);
      expect(await overlappingChartTexts(demoPage), range).toEqual([]);
    }
  });

  it('no two chart labels overlap, whatever the values: big totals, 100 % utilisation, 1 to 92 days', async () => {
    const row = (attended: number, noShows: number, cancelled: number, sold: number, used: number) =>
      ({
        period: '',
        firstDay: '',
        lastDay: '',
        days: 1,
        packageId: null,
        packageName: null,
        bookings: attended + noShows,
        attended,
        noShows,
        cancelled,
        sessionsDeducted: 0,
        passesIssued: 0,
        passesExpired: 0,
        activePasses: 0,
        endingPasses: sold ? 1 : 0,
        endingSessionsSold: sold,
        endingSessionsUsed: used,
      }) satisfies StatisticsRow;
    const scenarios: Array<[string, (k: number) => [number, number, number, number, number] | undefined]> = [
      // The issue's case: a bar total right where a 100.0% label goes.
      ['full bars at 100 %', () => [90, 5, 5, 10, 10]],
      ['big totals', (k) => [900 + k * 37, 80, 20 + k, 10, k % 10]],
      ['totals of 1', () => [1, 0, 0, 10, 10]],
      ['alternating', (k) => (k % 2 ? [3, 1, 1, 10, 10] : [40, 9, 9, 10, 0])],
      [
        'every third uncomputed',
        (k) => (k % 3 === 1 ? undefined : [12 + (k % 5), k % 3, k % 4, 10, (k * 3) % 11]),
      ],
      ['no utilisation', (k) => [5 + k, 1, 1, 0, 0]],
    ];
    for (const length of [1, 2, 7, 14, 30, 31, 45, 92]) {
      for (const [name, make] of scenarios) {
        const days: ChartDay[] = Array.from({ length }, (_, k) => {
          const figures = make(k);
          const r = figures ? row(...figures) : undefined;
          return {
            day: addDays('2026-01-01', k),
            row: r,
            utilisation: r?.endingSessionsSold ? r.endingSessionsUsed / r.endingSessionsSold : null,
          };
        });
        await demoPage.setContent(
          `<!doctype html><meta charset="utf-8"><body style="margin:0">${dailyChart(days, name)}</body>`,
        );
        expect(await overlappingChartTexts(demoPage), `${name}, ${length} days`).toEqual([]);
      }
    }
  });
});
