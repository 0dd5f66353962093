import { localParts } from '../time.ts';
import { type Html, type HtmlValue, html } from './html.ts';

/** The page frame every admin page shares: header, navigation, notices, and the stylesheet link. */

export const NAV = [
  { path: '/dashboard', label: 'Dashboard' },
  { path: '/runs', label: 'Runs' },
  { path: '/schedules', label: 'Schedules' },
  { path: '/members', label: 'Members' },
  { path: '/bulk-passes', label: 'Bulk passes' },
  { path: '/holds', label: 'Holds' },
  { path: '/closures', label: 'Closures' },
] as const;

export interface PageFrame {
  title: string;
  /** The nav entry to mark current. */
  active?: (typeof NAV)[number]['path'];
  /** Present when someone is logged in: shows the navigation and the logout button. */
  user?: { name: string; csrfToken: string };
  timeZone: string;
  notice?: string;
  error?: string;
  body: HtmlValue;
}

export function page(frame: PageFrame): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${frame.title} · ptpass admin</title>
<link rel="stylesheet" href="/admin.css">
</head>
<body>
<header>
  <span class="brand">ptpass admin</span>
  ${
    frame.user
      ? html`<nav>${NAV.map(
          (item) =>
            html`<a href="${item.path}"${frame.active === item.path ? html` aria-current="page"` : ''}>${item.label}</a>`,
        )}</nav>
  <form method="post" action="/logout" class="logout">
    <input type="hidden" name="csrf" value="${frame.user.csrfToken}">
    <span class="who">${frame.user.name}</span>
    <button type="submit">Log out</button>
  </form>`
      : ''
  }
</header>
<main>
<h1>${frame.title}</h1>
${frame.notice ? html`<p class="notice" role="status">${frame.notice}</p>` : ''}
${frame.error ? html`<p class="error" role="alert">${frame.error}</p>` : ''}
${frame.body}
</main>
<footer>Times are shown in ${frame.timeZone}.</footer>
</body>
</html>
`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An instant as the studio reads it: `2026-11-22 09:05` in the business time zone. */
export function formatTime(instant: Date | string | null | undefined, timeZone: string): string {
  if (instant === null || instant === undefined) return '';
  const date = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(date.getTime())) return '';
  const p = localParts(date, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}`;
}

export function formatSeconds(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

export const STYLESHEET = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5c6678; --line: #d9dee7; --accent: #2454c5;
  --ok: #1f7a3a; --bad: #b3261e; --warn: #8a5a00; --bg: #f6f7fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: #1d2330; color: #fff; flex-wrap: wrap; }
header .brand { font-weight: 700; }
header nav { display: flex; gap: 1rem; flex: 1; }
header nav a { color: #cfd8ea; text-decoration: none; padding: .2rem 0; }
header nav a[aria-current="page"] { color: #fff; border-bottom: 2px solid #fff; }
header .logout { display: flex; gap: .6rem; align-items: center; margin: 0; }
header .who { color: #cfd8ea; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.5rem 2rem; }
/* Text people enter (notes, reasons, names, a 200-character URL) wraps, mid-word if it must, instead of
   widening the page past the window. A cell is at most 20rem wide, so such a text takes that much and the
   short words beside it ("admin:owner", a button) keep theirs; figures, times and statuses never break. */
main { overflow-wrap: anywhere; }
td { max-width: 20rem; }
th, td.num, td.time, .status, label, button { overflow-wrap: normal; }
input, select { max-width: 100%; }
h1 { font-size: 1.4rem; margin: .6rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); background: #eef1f6; }
td.time { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: 600; font-size: .85rem; }
.status.COMPLETED, .status.active, .status.PROGRESSED { color: var(--ok); }
.status.FAILED, .status.EXPIRED { color: var(--bad); }
.status.RUNNING, .status.PAUSED, .status.READY { color: var(--warn); }
.notice { background: #e6f2ea; border: 1px solid #b7dbc3; padding: .5rem .8rem; }
.error { background: #fbe9e7; border: 1px solid #f1b8b2; padding: .5rem .8rem; color: var(--bad); }
.muted { color: var(--muted); }
.errtext { color: var(--bad); max-width: 28rem; overflow-wrap: anywhere; }
form.inline { display: inline; margin: 0; }
form.search, form.login { display: flex; gap: .5rem; align-items: end; margin-bottom: 1rem; flex-wrap: wrap; }
form.login { flex-direction: column; align-items: stretch; max-width: 20rem; }
label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: .2rem; }
input, select, button { font: inherit; padding: .35rem .6rem; border: 1px solid var(--line); border-radius: 4px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
header button { background: transparent; border-color: #5c6678; color: #fff; padding: .2rem .6rem; }
footer { text-align: center; color: var(--muted); font-size: .8rem; padding: 1rem; }
.warning { background: #fff6e0; border: 1px solid #ecd08f; padding: .5rem .8rem; color: var(--warn); }
.warning code.command { display: block; margin-top: .3rem; color: var(--ink); }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, monospace; }
dl.figures { display: flex; gap: .8rem; flex-wrap: wrap; margin: 0 0 1rem; }
dl.figures div { background: #fff; border: 1px solid var(--line); padding: .5rem .9rem; min-width: 8rem; }
dl.figures dt { font-size: .8rem; color: var(--muted); }
dl.figures dd { margin: 0; font-size: 1.4rem; font-weight: 600; font-variant-numeric: tabular-nums; }
figure.chart { margin: 0 0 1rem; background: #fff; border: 1px solid var(--line); overflow-x: auto; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
tr.uncomputed td { background: #f6f7fa; }
tfoot th, tfoot td { font-weight: 600; background: #eef1f6; }
form.grant { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: .6rem 1rem; align-items: end;
  background: #fff; border: 1px solid var(--line); padding: .8rem 1rem; }
form.grant button { justify-self: start; }
tr.created td { background: #e6f2ea; }
`;
