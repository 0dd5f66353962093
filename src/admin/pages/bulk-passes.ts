import { z } from 'zod';
import {
  createGrant,
  GrantInputError,
  type GrantRequest,
  parseGrantOptions,
  startGrantIssue,
} from '../../client/grant.ts';
import { listSchedules } from '../../client/schedules.ts';
import { groupChoices, listBulkPasses, packageChoices } from '../../db/queries/bulk-passes.ts';
import { issueBulkPassesJob } from '../../jobs/issue-bulk-passes.ts';
import { SCHEDULES } from '../../jobs/schedules.ts';
import { DAY_RANGE, FIRST_DAY, isInstantOutOfRange, LAST_DAY } from '../../time-range.ts';
import { type AdminApp, adminPage } from '../app.ts';
import { type Html, html } from '../html.ts';
import { type AdminRequest, htmlReply, type Reply, redirect } from '../http.ts';
import { formatTime } from '../layout.ts';

/**
 * Bulk passes: the list, and a form that creates one exactly as `ptpass grant --group` does — the same
 * parsing (`parseGrantOptions`), the same checks and the same one transaction (`createGrant`), so the same
 * input gets the same message and a refused form writes nothing. The form does not start the issuance
 * itself: the `issue-bulk-passes` schedule (every minute) issues every bulk pass whose time has come.
 */

const LIST_LIMIT = 100;
const GROUP_LIMIT = 500;
const FIELDS = ['package', 'group', 'start', 'end', 'count', 'at'] as const;
type Field = (typeof FIELDS)[number];
export type BulkPassForm = Record<Field, string>;

/** The form's envelope: short strings; a blank field is an option left out (its default applies). */
const text = (name: string) => z.string().max(40, `${name} must be at most 40 characters`).trim().default('');
const formSchema = z.object({
  package: text('package'),
  group: text('group'),
  start: text('start'),
  end: text('end'),
  count: text('count'),
  at: text('at'),
});

/** The date picker offers the accepted days only; the server checks them anyway. */
const TIME_LIMITS = html` min="${FIRST_DAY}T00:00" max="${LAST_DAY}T23:59"`;

const EMPTY_FORM: BulkPassForm = { package: '', group: '', start: '', end: '', count: '', at: '' };

/** The form's times: the request's field each one fills. */
const TIME_FIELDS = [
  ['start', 'startedAt'],
  ['end', 'endedAt'],
  ['at', 'issueAt'],
] as const;

/**
 * The grant a form asks for, or the message `ptpass grant` would print for the same options; a time
 * outside the days the admin web accepts (src/time-range.ts) is refused too.
 */
function formRequest(form: BulkPassForm, timeZone: string): GrantRequest | string {
  const values = Object.fromEntries(FIELDS.filter((f) => form[f] !== '').map((f) => [f, form[f]]));
  let request: GrantRequest;
  try {
    request = parseGrantOptions(values, timeZone);
  } catch (err) {
    if (err instanceof GrantInputError) return err.message;
    throw err;
  }
  for (const [field, key] of TIME_FIELDS) {
    const at = request[key];
    if (at && isInstantOutOfRange(at, timeZone))
      return `--${field} '${form[field]}' must be a time from ${DAY_RANGE} (read in ${timeZone})`;
  }
  return request;
}

async function issuingScheduleWarning(app: AdminApp): Promise<string | undefined> {
  const declaration = SCHEDULES.filter((s) => s.job === issueBulkPassesJob.name);
  try {
    const [state] = await listSchedules(app.schedules, declaration);
    if (!state?.exists)
      return 'The issue-bulk-passes schedule does not exist yet (start the worker or run ptpass schedules apply): a bulk pass whose own workflow did not start is not issued until it does.';
    if (state.paused)
      return `The issue-bulk-passes schedule is PAUSED${state.note ? ` (${state.note})` : ''}: its hourly safety net is off, and a bulk pass whose own workflow did not start is issued only after it is resumed on the Schedules page.`;
    return undefined;
  } catch (err) {
    app.logger.warn('admin web cannot describe the issue-bulk-passes schedule', { error: err });
    return 'Temporal did not answer, so whether the issue-bulk-passes schedule is running is unknown.';
  }
}

async function renderPage(
  app: AdminApp,
  req: AdminRequest,
  options: { form: BulkPassForm; error?: string; status?: number; created?: number },
): Promise<Reply> {
  const tz = app.config.businessTimeZone;
  const [list, packageList, groupList, warning] = await Promise.all([
    listBulkPasses(app.db, { limit: LIST_LIMIT }),
    packageChoices(app.db),
    groupChoices(app.db, { limit: GROUP_LIMIT }),
    issuingScheduleWarning(app),
  ]);
  const { form } = options;
  const created = options.created === undefined ? undefined : list.find((b) => b.id === options.created);
  const notice = created
    ? `Bulk pass ${created.id} created: its workflow issues it at ${formatTime(created.dueAt, tz)} (the hourly issue-bulk-passes schedule is the safety net).`
    : undefined;
  const selected = (value: number, chosen: string) => (String(value) === chosen ? html` selected` : '');
  const sessions = (n: number | null) => (n === null ? 'unlimited sessions' : `${n} sessions`);
  const period = (n: number | null) => (n === null ? 'no end' : `${n} days`);
  const field = (name: Field, label: string | Html, input: Html) =>
    html`<label data-field="${name}">${label} ${input}</label>`;

  const formHtml = html`<form class="grant" method="post" action="/bulk-passes">
  <input type="hidden" name="csrf" value="${req.csrfToken ?? ''}">
  ${field(
    'package',
    'Package',
    html`<select name="package" required>
      <option value="">choose…</option>
      ${packageList.map(
        (p) =>
          html`<option value="${p.id}"${selected(p.id, form.package)}>${p.name} (${p.id}: ${sessions(p.sessionCount)}, ${period(p.periodDays)})</option>`,
      )}
    </select>`,
  )}
  ${field(
    'group',
    'Group',
    html`<select name="group" required>
      <option value="">choose…</option>
      ${groupList.map(
        (g) =>
          html`<option value="${g.id}"${selected(g.id, form.group)}>${g.name} (${g.id}: ${g.active} active of ${g.members})</option>`,
      )}
    </select>`,
  )}
  ${field('start', html`Start <span class="muted">(default: the issue time)</span>`, html`<input type="datetime-local" name="start" value="${form.start}"${TIME_LIMITS}>`)}
  ${field('end', html`End <span class="muted">(default: the package period)</span>`, html`<input type="datetime-local" name="end" value="${form.end}"${TIME_LIMITS}>`)}
  ${field('count', html`Sessions per pass <span class="muted">(default: the package's)</span>`, html`<input type="number" name="count" value="${form.count}" step="1">`)}
  ${field('at', html`Issue at <span class="muted">(default: now)</span>`, html`<input type="datetime-local" name="at" value="${form.at}"${TIME_LIMITS}>`)}
  <button type="submit">Create bulk pass</button>
</form>
<p class="muted">Times are read in ${tz}. Each ACTIVE member of the group gets one pass; INACTIVE members are
skipped and counted. The checks and messages are those of <code>ptpass grant</code>, and a refused form writes
nothing. Each bulk pass gets a workflow of its own that waits on a durable timer until its issue time and then
issues it (at once without <em>Issue at</em>); the hourly <code>issue-bulk-passes</code> schedule issues any
that were missed.</p>`;

  const listHtml =
    list.length === 0
      ? html`<p class="muted">No bulk passes yet.</p>`
      : html`<table>
<thead><tr><th class="num">ID</th><th>Status</th><th>Package</th><th>Group</th><th>Due</th><th class="num">Sessions per pass</th><th>Passes start</th><th>Passes end</th><th class="num">Issued</th><th class="num">Skipped (INACTIVE)</th><th>Completed</th></tr></thead>
<tbody>
${list.map(
  (b) => html`<tr data-bulk-pass="${b.id}"${b.id === options.created ? html` class="created"` : ''}>
  <td class="num">${b.id}</td>
  <td><span class="status ${b.status}" data-status>${b.status}</span></td>
  <td>${b.packageName} <span class="muted">(${b.packageId})</span></td>
  <td>${b.groupName} <span class="muted">(${b.groupId})</span></td>
  <td class="time" data-due>${formatTime(b.dueAt, tz)}</td>
  <td class="num" data-count>${b.count === null ? 'unlimited' : b.count}</td>
  <td class="time">${formatTime(b.startedAt, tz)}</td>
  <td class="time">${b.endedAt ? formatTime(b.endedAt, tz) : html`<span class="muted">package period</span>`}</td>
  <td class="num" data-issued>${b.issuedCount}</td>
  <td class="num" data-skipped>${b.skippedCount}</td>
  <td class="time">${b.completedAt ? formatTime(b.completedAt, tz) : html`<span class="muted">not yet</span>`}</td>
</tr>`,
)}
</tbody>
</table>${list.length === LIST_LIMIT ? html`<p class="muted">The newest ${LIST_LIMIT} are shown.</p>` : ''}`;

  const body = html`${warning ? html`<p class="warning" role="note">${warning}</p>` : ''}
<h2>New bulk pass</h2>
${formHtml}
<h2>Bulk passes, newest first</h2>
${listHtml}`;
  return htmlReply(
    adminPage(app, req, {
      title: 'Bulk passes',
      active: '/bulk-passes',
      notice,
      error: options.error,
      body,
    }),
    options.status ?? 200,
  );
}

const createdQuery = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export async function bulkPassesPage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const created = createdQuery.safeParse(req.url.searchParams.get('created') ?? undefined);
  return renderPage(app, req, { form: EMPTY_FORM, created: created.success ? created.data : undefined });
}

export async function createBulkPass(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const parsed = formSchema.safeParse(
    Object.fromEntries(FIELDS.flatMap((f) => (req.form.has(f) ? [[f, req.form.get(f)]] : []))),
  );
  if (!parsed.success) {
    return renderPage(app, req, {
      form: EMPTY_FORM,
      status: 400,
      error: parsed.error.issues.map((i) => i.message).join('; '),
    });
  }
  const form: BulkPassForm = parsed.data;
  const request = formRequest(form, app.config.businessTimeZone);
  if (typeof request === 'string') return renderPage(app, req, { form, status: 400, error: request });
  const outcome = await createGrant(app.db, request, app.now(), app.config.businessTimeZone);
  if (!outcome.ok) return renderPage(app, req, { form, status: 400, error: outcome.problem });
  app.logger.info('bulk pass created in the admin web', {
    bulkPassId: outcome.grant.bulkPassId,
    packageId: outcome.grant.packageId,
    groupId: outcome.grant.groupId,
    user: req.session?.user,
  });
  try {
    await startGrantIssue(app.schedules, outcome.grant);
  } catch (err) {
    // The bulk pass is written and READY: the hourly schedule issues it.
    app.logger.warn('bulk pass workflow not started; the hourly schedule will issue it', {
      bulkPassId: outcome.grant.bulkPassId,
      error: err,
    });
  }
  return redirect(`/bulk-passes?created=${outcome.grant.bulkPassId}`);
}
