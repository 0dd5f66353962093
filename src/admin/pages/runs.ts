import { z } from 'zod';
import { workflowUrl } from '../../config.ts';
import { getJobRun, listJobRuns } from '../../db/queries/runs.ts';
import { JOB_NAMES } from '../../jobs/index.ts';
import { type AdminApp, adminPage } from '../app.ts';
import { html } from '../html.ts';
import { type AdminRequest, HttpError, htmlReply, type Reply } from '../http.ts';
import { formatSeconds, formatTime } from '../layout.ts';

/** Runs: what the batch jobs did — counts, skips, errors — with links into the Temporal Web UI. */

const listQuery = z.object({
  // The form's "all jobs" sends an empty value.
  job: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .enum(JOB_NAMES as [string, ...string[]], { message: `job must be one of ${JOB_NAMES.join(', ')}` })
      .optional(),
  ),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

function queryObject(url: URL, keys: string[]) {
  return Object.fromEntries(
    keys.flatMap((k) => (url.searchParams.has(k) ? [[k, url.searchParams.get(k)]] : [])),
  );
}

function badRequest(error: z.ZodError): HttpError {
  return new HttpError(400, error.issues.map((i) => i.message).join('; '));
}

export async function runsPage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const parsed = listQuery.safeParse(queryObject(req.url, ['job', 'limit']));
  if (!parsed.success) throw badRequest(parsed.error);
  const { job, limit } = parsed.data;
  const runs = await listJobRuns(app.db, { job, limit });
  const tz = app.config.businessTimeZone;
  const now = app.now();
  const body = html`<form class="search" method="get" action="/runs">
  <label>Job
    <select name="job">
      <option value="">all jobs</option>
      ${JOB_NAMES.map((name) => html`<option value="${name}"${name === job ? html` selected` : ''}>${name}</option>`)}
    </select>
  </label>
  <button type="submit" class="secondary">Show</button>
</form>
${
  runs.length === 0
    ? html`<p class="muted">No runs yet${job ? html` of ${job}` : ''}. Runs appear here when a schedule or <code>ptpass job run</code> starts a job.</p>`
    : html`<table>
<thead><tr><th>Started</th><th>Job</th><th>As of</th><th>Status</th><th class="num">Read</th><th class="num">Written</th><th class="num">Skipped</th><th>Took</th><th>Error</th><th>Temporal</th></tr></thead>
<tbody>
${runs.map(
  (run) => html`<tr data-run="${run.id}">
  <td class="time"><a href="/runs/${run.id}">${formatTime(run.startedAt, tz)}</a></td>
  <td>${run.job}${run.dryRun ? html` <span class="muted">(dry run)</span>` : ''}</td>
  <td class="time">${formatTime(run.asOf, tz)}</td>
  <td><span class="status ${run.status}">${run.status}</span></td>
  <td class="num">${run.readCount}</td>
  <td class="num">${run.writeCount}</td>
  <td class="num">${run.skipCount}</td>
  <td>${formatSeconds((run.endedAt ?? now).getTime() - run.startedAt.getTime())}${run.endedAt ? '' : html` <span class="muted">so far</span>`}</td>
  <td class="errtext">${run.error ? truncate(run.error, 160) : ''}</td>
  <td><a href="${workflowUrl(app.config, run.workflowId, run.id)}" rel="noreferrer" target="_blank">workflow</a></td>
</tr>`,
)}
</tbody>
</table>`
}`;
  return htmlReply(adminPage(app, req, { title: 'Runs', active: '/runs', body }));
}

export async function runPage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const id = z.uuid().safeParse(req.params[0]);
  if (!id.success) throw new HttpError(404, 'no such run');
  const found = await getJobRun(app.db, id.data);
  if (!found) throw new HttpError(404, 'no such run');
  const { run, steps, skips } = found;
  const tz = app.config.businessTimeZone;
  const body = html`<p>
  <span class="status ${run.status}">${run.status}</span> · ${run.job}${run.dryRun ? ' (dry run)' : ''} as of
  ${formatTime(run.asOf, tz)} · started ${formatTime(run.startedAt, tz)}${run.endedAt ? html`, ended ${formatTime(run.endedAt, tz)}` : ''}
  · <a href="${workflowUrl(app.config, run.workflowId, run.id)}" rel="noreferrer" target="_blank">workflow ${run.workflowId} in the Temporal Web UI</a>
</p>
${run.error ? html`<p class="error">${run.error}</p>` : ''}
<h2>Steps</h2>
<table>
<thead><tr><th>Step</th><th class="num">Partition</th><th>Status</th><th class="num">Read</th><th class="num">Written</th><th class="num">Skipped</th><th class="num">Chunks</th><th class="num">Attempt</th><th>Error</th></tr></thead>
<tbody>
${steps.map(
  (s) => html`<tr>
  <td>${s.step}</td><td class="num">${s.partition}</td><td><span class="status ${s.status}">${s.status}</span></td>
  <td class="num">${s.readCount}</td><td class="num">${s.writeCount}</td><td class="num">${s.skipCount}</td>
  <td class="num">${s.chunks}</td><td class="num">${s.attempt}</td><td class="errtext">${s.error ?? ''}</td>
</tr>`,
)}
</tbody>
</table>
<h2>Skipped items</h2>
${
  skips.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<table>
<thead><tr><th>Step</th><th>Item</th><th>Concerns</th><th>Reason</th></tr></thead>
<tbody>${skips.map(
        (s) =>
          html`<tr data-skip="${s.key}"><td>${s.step}</td><td>${s.userId === null ? s.key : html`<a href="/members/${s.userId}">${s.key}</a>`}</td><td>${concerns(s)}</td><td>${s.reason}</td></tr>`,
      )}</tbody>
</table>${skips.length >= 1000 ? html`<p class="muted">The first 1000 are shown; <code>ptpass runs show ${run.id} --json</code> has the same.</p>` : ''}`
}`;
  return htmlReply(adminPage(app, req, { title: `Run ${run.id}`, active: '/runs', body }));
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The member, booking and pass a skipped item concerns, each linked to the member's page where it is shown. */
function concerns(s: { userId: number | null; bookingId: number | null; passId: number | null }) {
  if (s.userId === null) return html`<span class="muted">-</span>`;
  const member = `/members/${s.userId}`;
  return html`<a href="${member}">member ${s.userId}</a>${
    s.bookingId === null ? '' : html` · <a href="${member}#booking-${s.bookingId}">booking ${s.bookingId}</a>`
  }${s.passId === null ? '' : html` · <a href="${member}#pass-${s.passId}">pass ${s.passId}</a>`}`;
}
