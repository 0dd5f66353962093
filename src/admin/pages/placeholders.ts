import { type AdminApp, adminPage } from '../app.ts';
import { html } from '../html.ts';
import { type AdminRequest, htmlReply, type Reply } from '../http.ts';

/**
 * Dashboard and Bulk passes have their place in the navigation now; their content arrives with the
 * statistics and bulk issuance features. Until then they say so, and show no numbers.
 */

export function dashboardPage(app: AdminApp, req: AdminRequest): Reply {
  return htmlReply(
    adminPage(app, req, {
      title: 'Dashboard',
      active: '/dashboard',
      body: html`<div class="placeholder">
  <p>The dashboard — a chart of attended classes, no-shows and cancellations per day, and the utilisation
  rate — arrives with the <strong>statistics</strong> feature. It is not part of this version, so there are
  no numbers to show yet.</p>
  <p>Meanwhile: <a href="/runs">Runs</a> shows what the batch jobs did, <a href="/members">Members</a> a
  member's passes.</p>
</div>`,
    }),
  );
}

export function bulkPassesPage(app: AdminApp, req: AdminRequest): Reply {
  return htmlReply(
    adminPage(app, req, {
      title: 'Bulk passes',
      active: '/bulk-passes',
      body: html`<div class="placeholder">
  <p>Issuing a pass to a whole member group — the list of bulk passes and the form to create one — arrives
  with the <strong>bulk issuance</strong> feature. It is not part of this version.</p>
</div>`,
    }),
  );
}
