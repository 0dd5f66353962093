import { z } from 'zod';
import {
  listSchedules,
  missedWhilePaused,
  pauseSchedule,
  resumeSchedule,
  ScheduleError,
  triggerSchedule,
} from '../../client/schedules.ts';
import { SCHEDULES } from '../../jobs/schedules.ts';
import { type AdminApp, adminPage } from '../app.ts';
import { html } from '../html.ts';
import { type AdminRequest, HttpError, htmlReply, type Reply, redirect } from '../http.ts';
import { formatTime } from '../layout.ts';

/** Schedules: each job schedule's state and next runs, with pause / resume / trigger. */

const SCHEDULE_IDS = SCHEDULES.map((s) => s.job as string) as [string, ...string[]];
const ACTIONS = ['pause', 'resume', 'trigger'] as const;
type Action = (typeof ACTIONS)[number];
const DONE: Record<Action, string> = { pause: 'paused', resume: 'resumed', trigger: 'triggered' };

const scheduleId = z.enum(SCHEDULE_IDS, { message: 'unknown schedule' });
const noticeQuery = z.object({ done: z.enum(['paused', 'resumed', 'triggered']), schedule: scheduleId });
/** After a resume: the last run before the pause (the times after it were missed); anything else is ignored. */
const lastRunQuery = z.iso.datetime();
const pauseForm = z.object({
  note: z
    .string()
    .trim()
    .max(200, 'the note must be at most 200 characters')
    .optional()
    .transform((n) => (n ? n : undefined)),
});

export async function schedulesPage(
  app: AdminApp,
  req: AdminRequest,
  problem?: { status: number; error: string },
): Promise<Reply> {
  let states: Awaited<ReturnType<typeof listSchedules>>;
  try {
    states = await listSchedules(app.schedules);
  } catch (err) {
    // Temporal down is an operator's everyday problem, not a crash: say so on the page.
    app.logger.warn('admin web cannot list schedules', { error: err });
    return htmlReply(
      adminPage(app, req, {
        title: 'Schedules',
        active: '/schedules',
        error: `Temporal did not answer (${firstLine(err)}); the schedules cannot be shown. Runs and members still work.`,
        body: html``,
      }),
      503,
    );
  }
  const tz = app.config.businessTimeZone;
  const notice = noticeQuery.safeParse({
    done: req.url.searchParams.get('done') ?? undefined,
    schedule: req.url.searchParams.get('schedule') ?? undefined,
  });
  const after = lastRunQuery.safeParse(req.url.searchParams.get('after'));
  // Temporal does not run the times a schedule missed while paused: the notice says so, with the backfill.
  const missed =
    notice.success && notice.data.done === 'resumed' && after.success
      ? missedWhilePaused(
          notice.data.schedule,
          { wasPaused: true, lastRunAt: new Date(after.data) },
          app.now(),
          tz,
        )
      : undefined;
  const csrf = req.csrfToken ?? '';
  const button = (id: string, action: Action, label: string, extra = html``) =>
    html`<form class="inline" method="post" action="/schedules/${id}/${action}">
      <input type="hidden" name="csrf" value="${csrf}">${extra}
      <button type="submit"${action === 'trigger' ? html` class="secondary"` : ''}>${label}</button>
    </form>`;
  const body = html`<table>
<thead><tr><th>Schedule</th><th>Calendar</th><th>State</th><th>Next runs</th><th>Last run</th><th>Note</th><th>Actions</th></tr></thead>
<tbody>
${states.map((s) => {
  const state = !s.exists ? 'not applied' : s.paused ? 'PAUSED' : 'active';
  return html`<tr data-schedule="${s.scheduleId}">
  <td><a href="/runs?job=${s.job}">${s.scheduleId}</a></td>
  <td>${s.calendar} <span class="muted">(${s.timeZone})</span></td>
  <td><span class="status ${state}" data-state="${state}">${state}</span></td>
  <td class="time">${s.paused ? html`<span class="muted">none while paused</span>` : s.nextRuns.map((t) => html`${formatTime(t, tz)}<br>`)}</td>
  <td class="time">${s.lastRun ? formatTime(s.lastRun, tz) : html`<span class="muted">never</span>`}</td>
  <td>${s.note ?? ''}</td>
  <td>${
    !s.exists
      ? html`<span class="muted">start the worker or run <code>ptpass schedules apply</code></span>`
      : html`${
          s.paused
            ? button(s.scheduleId, 'resume', 'Resume')
            : button(
                s.scheduleId,
                'pause',
                'Pause',
                html`<input type="text" name="note" maxlength="200" placeholder="why (optional)" aria-label="Pause note for ${s.scheduleId}">`,
              )
        } ${button(s.scheduleId, 'trigger', 'Run now')}`
  }</td>
</tr>`;
})}
</tbody>
</table>
<p class="muted">Pausing stops new runs until resumed; a run already going finishes. “Run now” starts the job as of this minute.</p>`;
  return htmlReply(
    adminPage(app, req, {
      title: 'Schedules',
      active: '/schedules',
      notice: notice.success
        ? `${notice.data.schedule}: ${notice.data.done}${
            missed
              ? `. The times it missed while paused (after ${missed.after}) do not run by themselves; to run them: ${missed.backfill}`
              : ''
          }`
        : undefined,
      error: problem?.error,
      body,
    }),
    problem?.status ?? 200,
  );
}

export async function scheduleAction(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const id = scheduleId.safeParse(req.params[0]);
  const action = ACTIONS.find((a) => a === req.params[1]);
  if (!id.success || !action) throw new HttpError(404, 'no such schedule or action');
  let after = '';
  try {
    if (action === 'pause') {
      const form = pauseForm.safeParse({ note: req.form.get('note') ?? undefined });
      if (!form.success)
        return schedulesPage(app, req, { status: 400, error: form.error.issues[0]?.message ?? 'bad note' });
      await pauseSchedule(
        app.schedules,
        id.data,
        form.data.note ?? `paused in the admin web by ${req.session?.user}`,
      );
    } else if (action === 'resume') {
      const resumed = await resumeSchedule(app.schedules, id.data);
      if (resumed.wasPaused && resumed.lastRunAt)
        after = `&after=${encodeURIComponent(resumed.lastRunAt.toISOString())}`;
    } else {
      await triggerSchedule(app.schedules, id.data);
    }
  } catch (err) {
    if (err instanceof ScheduleError) return schedulesPage(app, req, { status: 409, error: err.message });
    throw err;
  }
  app.logger.info('schedule changed in the admin web', {
    scheduleId: id.data,
    action,
    user: req.session?.user,
  });
  return redirect(`/schedules?done=${DONE[action]}&schedule=${encodeURIComponent(id.data)}${after}`);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}
