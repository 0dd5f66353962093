import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTime } from '../src/admin/layout.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { jobRuns } from '../src/db/schema.ts';
import { ADMIN_PASSWORD, ADMIN_USER, type AdminStack, startAdminStack } from './helpers/admin.ts';
import { seedBooking, seedPackage, seedPass, seedUser, uniqueAsOf } from './helpers/seed.ts';

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
      endedAt: new Date(asOf.getTime() + 100 * 24 * hour),
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
});
