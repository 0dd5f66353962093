import { z } from 'zod';
import { launchClosure } from '../../client/closures.ts';
import { bookingsInClosure, insertClosure, listClosures } from '../../db/queries/closures.ts';
import { addHold, checkHoldShape, endHold, listHolds } from '../../db/queries/holds.ts';
import { businessDayOf } from '../../time.ts';
import { DAY_RANGE, FIRST_DAY, isDayOutOfRange, LAST_DAY } from '../../time-range.ts';
import { type AdminApp, adminPage } from '../app.ts';
import { html } from '../html.ts';
import { type AdminRequest, HttpError, htmlReply, type Reply, redirect } from '../http.ts';
import { formatTime } from '../layout.ts';

/**
 * Holds and studio closures in the admin web: the same rules and messages as `ptpass holds` and
 * `ptpass closures` (src/db/queries/holds.ts, closures.ts); a refused form writes nothing. Adding a
 * closure starts its `apply-closure` run, as the CLI does.
 */

const LIST_LIMIT = 100;
const field = (max: number, name: string) =>
  z.string().max(max, `${name} must be at most ${max} characters`).trim().default('');
const holdForm = z.object({
  pass: field(20, 'pass'),
  from: field(10, 'from'),
  to: field(10, 'to'),
  reason: field(200, 'reason'),
});
const closureForm = z.object({ from: field(10, 'from'), to: field(10, 'to'), reason: field(200, 'reason') });
type HoldForm = z.output<typeof holdForm>;
type ClosureForm = z.output<typeof closureForm>;
const idParam = z
  .string()
  .regex(/^[1-9]\d{0,17}$/)
  .transform(Number);

function formValues<T extends z.ZodObject>(schema: T, req: AdminRequest) {
  const keys = Object.keys(schema.shape);
  return schema.safeParse(
    Object.fromEntries(keys.flatMap((k) => (req.form.has(k) ? [[k, req.form.get(k)]] : []))),
  );
}

const who = (req: AdminRequest) => `admin:${req.session?.user ?? 'unknown'}`;

/** A held or closed day outside the days the admin web accepts (src/time-range.ts), named as the CLI's flag. */
function dayOutOfRange(form: { from: string; to: string }): string | undefined {
  for (const name of ['from', 'to'] as const)
    if (isDayOutOfRange(form[name])) return `--${name} ${form[name]} must be a day from ${DAY_RANGE}`;
  return undefined;
}

async function renderHolds(
  app: AdminApp,
  req: AdminRequest,
  options: { form: HoldForm; error?: string; notice?: string; status?: number },
): Promise<Reply> {
  const tz = app.config.businessTimeZone;
  const rows = await listHolds(app.db, { limit: LIST_LIMIT });
  const { form } = options;
  const csrf = html`<input type="hidden" name="csrf" value="${req.csrfToken ?? ''}">`;
  const today = businessDayOf(app.now(), tz);
  const body = html`<h2>Put a pass on hold</h2>
<form class="grant" method="post" action="/holds">
  ${csrf}
  <label data-field="pass">Pass ID <input type="number" name="pass" value="${form.pass}" min="1" required></label>
  <label data-field="from">First held day <input type="date" name="from" value="${form.from}" min="${FIRST_DAY}" max="${LAST_DAY}" required></label>
  <label data-field="to">Last held day <input type="date" name="to" value="${form.to}" min="${FIRST_DAY}" max="${LAST_DAY}" required></label>
  <label data-field="reason">Reason <input type="text" name="reason" value="${form.reason}" maxlength="200" required></label>
  <button type="submit">Put on hold</button>
</form>
<p class="muted">Business days in ${tz}, both included. The pass's end moves later by the held days (less days a
studio closure already extended it for); it cannot be booked while on hold. <strong>End early</strong> makes
today the first usable day again and moves the end back by the unused days. The same rules as
<code>ptpass holds</code>.</p>
<h2>Holds, newest first</h2>
${
  rows.length === 0
    ? html`<p class="muted">No holds yet.</p>`
    : html`<table>
<thead><tr><th class="num">Hold</th><th class="num">Pass</th><th>Member</th><th>From</th><th>To</th><th>Ended early</th><th class="num">Days added</th><th>Reason</th><th>By</th><th>Pass ends</th><th></th></tr></thead>
<tbody>${rows.map(
        (h) => html`<tr data-hold="${h.id}">
  <td class="num">${h.id}</td><td class="num">${h.passId}</td><td><a href="/members/${h.userId}#pass-${h.passId}">member ${h.userId}</a></td>
  <td class="time">${h.startsOn}</td><td class="time">${h.endsOn}</td><td class="time">${h.endedEarlyOn ?? ''}</td>
  <td class="num">${h.extendedDays}</td><td>${h.reason}</td><td>${h.createdBy}</td>
  <td class="time">${h.passEndedAt ? formatTime(h.passEndedAt, tz) : html`<span class="muted">no end</span>`}</td>
  <td>${
    h.endedEarlyOn === null && h.endsOn >= today
      ? html`<form method="post" action="/holds/${h.id}/end">${csrf}<button type="submit">End early</button></form>`
      : ''
  }</td>
</tr>`,
      )}</tbody></table>`
}`;
  return htmlReply(
    adminPage(app, req, {
      title: 'Holds',
      active: '/holds',
      notice: options.notice,
      error: options.error,
      body,
    }),
    options.status ?? 200,
  );
}

const EMPTY_HOLD: HoldForm = { pass: '', from: '', to: '', reason: '' };

export async function holdsPage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const done = req.url.searchParams.get('done');
  return renderHolds(app, req, {
    form: EMPTY_HOLD,
    notice: done === 'added' ? 'Hold added.' : done === 'ended' ? 'Hold ended.' : undefined,
  });
}

export async function createHoldAction(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const parsed = formValues(holdForm, req);
  if (!parsed.success)
    return renderHolds(app, req, {
      form: EMPTY_HOLD,
      status: 400,
      error: parsed.error.issues.map((i) => i.message).join('; '),
    });
  const form = parsed.data as HoldForm;
  const pass = idParam.safeParse(form.pass);
  if (!pass.success)
    return renderHolds(app, req, {
      form,
      status: 400,
      error: `--pass '${form.pass}' is not an ID (a whole number above 0)`,
    });
  const hold = {
    passId: pass.data,
    startsOn: form.from,
    endsOn: form.to,
    reason: form.reason,
    createdBy: who(req),
  };
  const shape = dayOutOfRange(form) ?? checkHoldShape(hold);
  if (shape) return renderHolds(app, req, { form, status: 400, error: shape });
  const outcome = await addHold(app.db, hold, app.config.businessTimeZone);
  if (!outcome.ok) return renderHolds(app, req, { form, status: 400, error: outcome.problem });
  app.logger.info('hold added in the admin web', { holdId: outcome.hold.id, passId: outcome.hold.passId });
  return redirect('/holds?done=added');
}

export async function endHoldAction(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const id = idParam.safeParse(req.params[0]);
  if (!id.success) throw new HttpError(404, 'no such hold');
  const tz = app.config.businessTimeZone;
  const outcome = await endHold(app.db, { holdId: id.data, on: businessDayOf(app.now(), tz) }, tz);
  if (!outcome.ok) return renderHolds(app, req, { form: EMPTY_HOLD, status: 400, error: outcome.problem });
  app.logger.info('hold ended in the admin web', { holdId: id.data });
  return redirect('/holds?done=ended');
}

async function renderClosures(
  app: AdminApp,
  req: AdminRequest,
  options: { form: ClosureForm; error?: string; notice?: string; status?: number },
): Promise<Reply> {
  const tz = app.config.businessTimeZone;
  const rows = await listClosures(app.db, { limit: LIST_LIMIT, timeZone: tz });
  const { form } = options;
  const body = html`<h2>Close the studio</h2>
<form class="grant" method="post" action="/closures">
  <input type="hidden" name="csrf" value="${req.csrfToken ?? ''}">
  <label data-field="from">First closed day <input type="date" name="from" value="${form.from}" min="${FIRST_DAY}" max="${LAST_DAY}" required></label>
  <label data-field="to">Last closed day <input type="date" name="to" value="${form.to}" min="${FIRST_DAY}" max="${LAST_DAY}" required></label>
  <label data-field="reason">Reason <input type="text" name="reason" value="${form.reason}" maxlength="200" required></label>
  <button type="submit">Add closure</button>
</form>
<p class="muted">Business days in ${tz}, both included. Adding a closure starts the <code>apply-closure</code> job:
every pass active during it is extended by the closed days (not those it is on hold), exactly once. Bookings
inside it are not cancelled: open a closure to see them. The same rules as <code>ptpass closures</code>.</p>
<h2>Closures, newest first</h2>
${
  rows.length === 0
    ? html`<p class="muted">No closures yet.</p>`
    : html`<table>
<thead><tr><th class="num">Closure</th><th>From</th><th>To</th><th>Reason</th><th>By</th><th class="num">Passes extended</th><th class="num">Bookings inside</th></tr></thead>
<tbody>${rows.map(
        (c) => html`<tr data-closure="${c.id}">
  <td class="num"><a href="/closures/${c.id}">${c.id}</a></td><td class="time">${c.startsOn}</td><td class="time">${c.endsOn}</td>
  <td>${c.reason}</td><td>${c.createdBy}</td><td class="num" data-extended>${c.passesExtended}</td>
  <td class="num" data-bookings><a href="/closures/${c.id}">${c.bookingsInside}</a></td>
</tr>`,
      )}</tbody></table>`
}`;
  return htmlReply(
    adminPage(app, req, {
      title: 'Closures',
      active: '/closures',
      notice: options.notice,
      error: options.error,
      body,
    }),
    options.status ?? 200,
  );
}

const EMPTY_CLOSURE: ClosureForm = { from: '', to: '', reason: '' };

export async function closuresPage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const added = idParam.safeParse(req.url.searchParams.get('added') ?? '');
  return renderClosures(app, req, {
    form: EMPTY_CLOSURE,
    notice: added.success ? `Closure ${added.data} added; its passes are being extended.` : undefined,
  });
}

export async function createClosureAction(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const parsed = formValues(closureForm, req);
  if (!parsed.success)
    return renderClosures(app, req, {
      form: EMPTY_CLOSURE,
      status: 400,
      error: parsed.error.issues.map((i) => i.message).join('; '),
    });
  const form = parsed.data as ClosureForm;
  const closure = { startsOn: form.from, endsOn: form.to, reason: form.reason, createdBy: who(req) };
  const shape = dayOutOfRange(form) ?? checkHoldShape(closure);
  if (shape) return renderClosures(app, req, { form, status: 400, error: shape });
  const created = await insertClosure(app.db, closure);
  if (!created.ok) return renderClosures(app, req, { form, status: 400, error: created.problem });
  await launchClosure(
    { client: app.schedules.client, db: app.db, taskQueue: app.schedules.taskQueue },
    created.id,
    false,
  );
  app.logger.info('closure added in the admin web', { closureId: created.id });
  return redirect(`/closures?added=${created.id}`);
}

export async function closurePage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const id = idParam.safeParse(req.params[0]);
  if (!id.success) throw new HttpError(404, 'no such closure');
  const tz = app.config.businessTimeZone;
  const found = await bookingsInClosure(app.db, id.data, tz);
  if (!found) throw new HttpError(404, 'no such closure');
  const { closure, bookings } = found;
  const body = html`<p>Closed ${closure.startsOn} to ${closure.endsOn}: ${closure.reason} (by ${closure.createdBy}).</p>
<h2>Bookings inside the closure, for the studio to cancel</h2>
${
  bookings.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<table>
<thead><tr><th class="num">Booking</th><th>Member</th><th class="num">Pass</th><th>Status</th><th>Class starts</th></tr></thead>
<tbody>${bookings.map(
        (
          b,
        ) => html`<tr data-booking="${b.id}"><td class="num">${b.id}</td><td><a href="/members/${b.userId}">member ${b.userId}</a></td>
  <td class="num">${b.passId ?? ''}</td><td>${b.status}</td><td class="time">${formatTime(b.startedAt, tz)}</td></tr>`,
      )}</tbody></table>`
}`;
  return htmlReply(adminPage(app, req, { title: `Closure ${closure.id}`, active: '/closures', body }));
}
