import { z } from 'zod';
import {
  attendanceRate,
  computedDays,
  missingDays,
  percent,
  readStatistics,
  type StatisticsRow,
  utilisation,
} from '../../db/queries/statistics.ts';
import { addDays, businessDayOf, isBusinessDay } from '../../time.ts';
import { DAY_RANGE, FIRST_DAY, isDayOutOfRange, LAST_DAY } from '../../time-range.ts';
import { type AdminApp, adminPage } from '../app.ts';
import { type ChartDay, dailyChart } from '../chart.ts';
import { html } from '../html.ts';
import { type AdminRequest, htmlReply, type Reply } from '../http.ts';

/**
 * Dashboard: attended, no-shows and cancelled per business day, and the utilisation rate (수업 소진률) —
 * the rows `ptpass stats show` prints, read by the same queries and rated by the same functions.
 */

export const DEFAULT_DASHBOARD_DAYS = 14;
/** About a quarter: more bars than that stop being readable. */
export const MAX_DASHBOARD_DAYS = 92;

const blankIsAbsent = (v: unknown) => (v === '' || v === null ? undefined : v);

const dashboardQuery = z.object({
  end: z.preprocess(
    blankIsAbsent,
    z
      .string()
      .trim()
      .refine(isBusinessDay, { message: 'the last day must be a calendar day YYYY-MM-DD, e.g. 2026-11-21' })
      .refine((day) => !isDayOutOfRange(day), { message: `the last day must be from ${DAY_RANGE}` })
      .optional(),
  ),
  days: z.preprocess(
    blankIsAbsent,
    z
      .string()
      .trim()
      .regex(/^\d{1,4}$/, { message: `days must be a whole number from 1 to ${MAX_DASHBOARD_DAYS}` })
      .transform(Number)
      .refine((n) => n >= 1 && n <= MAX_DASHBOARD_DAYS, {
        message: `days must be a whole number from 1 to ${MAX_DASHBOARD_DAYS}`,
      })
      .optional(),
  ),
});

function rangeForm(end: string, days: string) {
  return html`<form class="search" method="get" action="/dashboard">
  <label>Last day <input type="date" name="end" value="${end}" min="${FIRST_DAY}" max="${LAST_DAY}" required></label>
  <label>Days <input type="number" name="days" value="${days}" min="1" max="${MAX_DASHBOARD_DAYS}" required></label>
  <button type="submit">Show</button>
</form>`;
}

/** The range's figures summed from its computed days; rates from the sums, never averaged. */
function rangeTotals(rows: StatisticsRow[], from: string, to: string): StatisticsRow {
  const total: StatisticsRow = {
    period: `${from}..${to}`,
    firstDay: rows[0]?.firstDay ?? from,
    lastDay: rows.at(-1)?.lastDay ?? to,
    days: 0,
    packageId: null,
    packageName: null,
    bookings: 0,
    attended: 0,
    noShows: 0,
    cancelled: 0,
    sessionsDeducted: 0,
    passesIssued: 0,
    passesExpired: 0,
    activePasses: rows.at(-1)?.activePasses ?? 0,
    endingPasses: 0,
    endingSessionsSold: 0,
    endingSessionsUsed: 0,
  };
  for (const r of rows) {
    total.days += r.days;
    total.bookings += r.bookings;
    total.attended += r.attended;
    total.noShows += r.noShows;
    total.cancelled += r.cancelled;
    total.sessionsDeducted += r.sessionsDeducted;
    total.passesIssued += r.passesIssued;
    total.passesExpired += r.passesExpired;
    total.endingPasses += r.endingPasses;
    total.endingSessionsSold += r.endingSessionsSold;
    total.endingSessionsUsed += r.endingSessionsUsed;
  }
  return total;
}

export async function dashboardPage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const tz = app.config.businessTimeZone;
  const entered = {
    end: req.url.searchParams.get('end') ?? '',
    days: req.url.searchParams.get('days') ?? '',
  };
  const parsed = dashboardQuery.safeParse(entered);
  if (!parsed.success) {
    return htmlReply(
      adminPage(app, req, {
        title: 'Dashboard',
        active: '/dashboard',
        error: parsed.error.issues.map((i) => i.message).join('; '),
        body: rangeForm(entered.end, entered.days),
      }),
      400,
    );
  }
  // By default the range ends today (the statistics job computes a finished day at 01:00 the next day; today
  // shows as computed when someone computed it, as the demo does, and as "not computed yet" otherwise).
  const to = parsed.data.end ?? businessDayOf(app.now(), tz);
  const dayCount = parsed.data.days ?? DEFAULT_DASHBOARD_DAYS;
  const from = addDays(to, -(dayCount - 1));
  const query = { from, to, period: 'day' as const, byPackage: false };
  const [rows, computed] = await Promise.all([readStatistics(app.db, query), computedDays(app.db, query)]);
  const missing = missingDays(query, computed);
  const byDay = new Map(rows.map((r) => [r.period, r]));
  const days: ChartDay[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    const row = byDay.get(day);
    days.push({ day, row, utilisation: row ? utilisation(row) : null });
  }
  const total = rangeTotals(rows, from, to);

  const summary = html`<dl class="figures">
  <div><dt>Attended</dt><dd data-total="attended">${total.attended}</dd></div>
  <div><dt>No-shows</dt><dd data-total="noShows">${total.noShows}</dd></div>
  <div><dt>Cancelled</dt><dd data-total="cancelled">${total.cancelled}</dd></div>
  <div><dt>Attendance</dt><dd data-total="attendance">${percent(attendanceRate(total))}</dd></div>
  <div><dt>Utilisation (수업 소진률)</dt><dd data-total="utilisation">${percent(utilisation(total))}</dd></div>
</dl>`;

  const hint =
    missing.length === 0
      ? ''
      : html`<p class="warning" role="note" data-missing="${missing.length}">${missing.length} of ${dayCount} day${dayCount === 1 ? '' : 's'} ${missing.length === 1 ? 'has' : 'have'} no statistics yet (from ${missing[0]}${missing.length > 1 ? html` to ${missing.at(-1)}` : ''}); they are shown as not computed, not as zeros. The <code>statistics</code> schedule computes each day after it ends; to compute them now:
  <code class="command">ptpass job run statistics --from ${missing[0]} --to ${missing.at(-1)} --wait</code></p>`;

  const cell = (value: number) => html`<td class="num">${value}</td>`;
  const table = html`<table class="figures-table">
<thead><tr><th>Day</th><th class="num">Bookings</th><th class="num">Attended</th><th class="num">No-shows</th><th class="num">Attendance</th><th class="num">Cancelled</th><th class="num">Sessions deducted</th><th class="num">Passes ending</th><th class="num">Sessions sold</th><th class="num">Sessions used</th><th class="num">Utilisation</th></tr></thead>
<tbody>
${days.map((d) =>
  d.row
    ? html`<tr data-day="${d.day}">
  <td class="time">${d.day}</td>${cell(d.row.bookings)}${cell(d.row.attended)}${cell(d.row.noShows)}
  <td class="num">${percent(attendanceRate(d.row))}</td>${cell(d.row.cancelled)}${cell(d.row.sessionsDeducted)}
  ${cell(d.row.endingPasses)}${cell(d.row.endingSessionsSold)}${cell(d.row.endingSessionsUsed)}
  <td class="num">${percent(d.utilisation)}</td>
</tr>`
    : html`<tr data-day="${d.day}" class="uncomputed"><td class="time">${d.day}</td><td colspan="10" class="muted">not computed yet</td></tr>`,
)}
</tbody>
<tfoot><tr data-day="total">
  <th>${total.days} computed day${total.days === 1 ? '' : 's'}</th>${cell(total.bookings)}${cell(total.attended)}${cell(total.noShows)}
  <td class="num">${percent(attendanceRate(total))}</td>${cell(total.cancelled)}${cell(total.sessionsDeducted)}
  ${cell(total.endingPasses)}${cell(total.endingSessionsSold)}${cell(total.endingSessionsUsed)}
  <td class="num">${percent(utilisation(total))}</td>
</tr></tfoot>
</table>`;

  const body = html`${rangeForm(to, String(dayCount))}
<p class="muted">${from} to ${to} (business days in ${tz}). The same rows as <code>ptpass stats show --from ${from} --to ${to}</code>.</p>
${hint}
${summary}
<figure class="chart">
${dailyChart(days, `Attended, no-shows and cancelled classes per day, and utilisation, from ${from} to ${to}`)}
</figure>
${table}
<p class="muted">Bookings belong to the day their class starts. A no-show is a booking not attended whose class
has ended; cancelled bookings count only as cancelled. Attendance = attended / (attended + no-shows).
Utilisation (수업 소진률) = sessions used / sessions sold over the session-limited passes that ended that day
(“-” when none ended); the total rates come from the summed figures, not an average of the days.</p>`;
  return htmlReply(adminPage(app, req, { title: 'Dashboard', active: '/dashboard', body }));
}
