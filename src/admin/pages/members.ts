import { z } from 'zod';
import { getMember, memberPasses, searchMembers, upcomingBookings } from '../../db/queries/members.ts';
import { type AdminApp, adminPage } from '../app.ts';
import { html } from '../html.ts';
import { type AdminRequest, HttpError, htmlReply, type Reply } from '../http.ts';
import { formatTime } from '../layout.ts';

/** Members: search by name or ID; a member's passes with the sessions upcoming bookings reserve. */

const searchQuery = z.object({
  q: z.string().trim().max(100, 'the search must be at most 100 characters').default(''),
});
const memberId = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export async function membersPage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const parsed = searchQuery.safeParse({ q: req.url.searchParams.get('q') ?? undefined });
  if (!parsed.success) {
    return htmlReply(
      adminPage(app, req, {
        title: 'Members',
        active: '/members',
        error: parsed.error.issues[0]?.message,
        body: searchForm(''),
      }),
      400,
    );
  }
  const { q } = parsed.data;
  const found = q ? await searchMembers(app.db, { query: q, limit: 50 }) : [];
  const body = html`${searchForm(q)}
${
  !q
    ? html`<p class="muted">Search by part of a name, or by member ID.</p>`
    : found.length === 0
      ? html`<p>No member matches “${q}”.</p>`
      : html`<table>
<thead><tr><th class="num">ID</th><th>Name</th><th>Status</th><th class="num">Passes not expired</th></tr></thead>
<tbody>
${found.map(
  (m) =>
    html`<tr><td class="num">${m.id}</td><td><a href="/members/${m.id}">${m.name}</a></td><td>${m.status}</td><td class="num">${m.activePasses}</td></tr>`,
)}
</tbody>
</table>${found.length === 50 ? html`<p class="muted">The first 50 matches are shown; narrow the search.</p>` : ''}`
}`;
  return htmlReply(adminPage(app, req, { title: 'Members', active: '/members', body }));
}

function searchForm(q: string) {
  return html`<form class="search" method="get" action="/members" role="search">
  <label>Name or ID <input type="search" name="q" value="${q}" maxlength="100" autofocus></label>
  <button type="submit">Search</button>
</form>`;
}

export async function memberPage(app: AdminApp, req: AdminRequest): Promise<Reply> {
  const id = memberId.safeParse(req.params[0]);
  if (!id.success) throw new HttpError(404, 'no such member');
  const member = await getMember(app.db, id.data);
  if (!member) throw new HttpError(404, 'no such member');
  const now = app.now();
  const [passRows, bookingRows] = await Promise.all([
    memberPasses(app.db, member.id, now),
    upcomingBookings(app.db, member.id, now, 20),
  ]);
  const tz = app.config.businessTimeZone;
  const body = html`<p>Member ${member.id} · ${member.status} · since ${formatTime(member.createdAt, tz)} · <a href="/members">another search</a></p>
<h2>Passes</h2>
${
  passRows.length === 0
    ? html`<p class="muted">No passes.</p>`
    : html`<table>
<thead><tr><th class="num">Pass</th><th>Package</th><th>Status</th><th class="num">Remaining</th><th class="num">Reserved by upcoming bookings</th><th class="num">Free to book</th><th>Starts</th><th>Ends</th></tr></thead>
<tbody>
${passRows.map((p) => {
  const unlimited = p.remainingCount === null;
  return html`<tr data-pass="${p.id}" id="pass-${p.id}">
  <td class="num">${p.id}</td>
  <td>${p.packageName}${p.bulkPassId ? html` <span class="muted">(bulk ${p.bulkPassId})</span>` : ''}</td>
  <td><span class="status ${p.status}">${p.status}</span>${p.expiredAt ? html` <span class="muted">${formatTime(p.expiredAt, tz)}</span>` : ''}</td>
  <td class="num" data-remaining>${unlimited ? 'unlimited' : p.remainingCount}</td>
  <td class="num" data-reserved>${p.reserved}</td>
  <td class="num" data-free>${unlimited ? 'unlimited' : Math.max(0, (p.remainingCount ?? 0) - p.reserved)}</td>
  <td class="time">${formatTime(p.startedAt, tz)}</td>
  <td class="time">${p.endedAt ? formatTime(p.endedAt, tz) : html`<span class="muted">no end</span>`}</td>
</tr>`;
})}
</tbody>
</table>
<p class="muted">A session is deducted when its class ends; until then it counts in “Remaining” and is reserved.</p>`
}
<h2>Upcoming bookings</h2>
${
  bookingRows.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<table>
<thead><tr><th class="num">Booking</th><th>Class starts</th><th>Ends</th><th class="num">Pass</th></tr></thead>
<tbody>${bookingRows.map(
        (b) =>
          html`<tr id="booking-${b.id}"><td class="num">${b.id}</td><td>${formatTime(b.startedAt, tz)}</td><td>${formatTime(b.endedAt, tz)}</td><td class="num">${b.passId ?? html`<span class="muted">none</span>`}</td></tr>`,
      )}</tbody>
</table>`
}`;
  return htmlReply(adminPage(app, req, { title: member.name, active: '/members', body }));
}
