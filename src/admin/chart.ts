import type { StatisticsRow } from '../db/queries/statistics.ts';
import { type Html, html } from './html.ts';

/**
 * The dashboard's chart as inline SVG, drawn on the server: the pages carry no script (the CSP forbids
 * it), and an SVG is readable as markup by tests and by screen readers. Colours are presentation
 * attributes, not inline styles, which the CSP would also block.
 */

export interface ChartDay {
  /** Business day, YYYY-MM-DD. */
  day: string;
  /** The day's totals row; undefined when the statistics job has not computed the day. */
  row: StatisticsRow | undefined;
  /** The day's utilisation (sessions used / sold of the passes that ended that day); null: none ended. */
  utilisation: number | null;
}

export const SERIES = [
  { key: 'attended', label: 'Attended', colour: '#1f7a3a' },
  { key: 'noShows', label: 'No-shows', colour: '#c0392b' },
  { key: 'cancelled', label: 'Cancelled', colour: '#9aa3b2' },
] as const;

const UTILISATION_COLOUR = '#2454c5';
const WIDTH = 1120;
const HEIGHT = 380;
const MARGIN = { top: 44, right: 64, bottom: 64, left: 56 };

const r1 = (n: number) => Math.round(n * 10) / 10;

/** A tick step of 1, 2 or 5 × 10^k giving at most five steps up to `max`. */
export function tickStep(max: number): number {
  if (max <= 5) return 1;
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

const percentLabel = (value: number) => `${(value * 100).toFixed(1)}%`;

export function dailyChart(days: readonly ChartDay[], caption: string): Html {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const bottom = MARGIN.top + plotHeight;
  const slot = plotWidth / Math.max(1, days.length);
  const barWidth = Math.min(slot * 0.62, 56);
  const highest = Math.max(
    0,
    ...days.map((d) => (d.row ? d.row.attended + d.row.noShows + d.row.cancelled : 0)),
  );
  const step = tickStep(highest);
  const yMax = Math.max(step, Math.ceil(highest / step) * step);
  const y = (value: number) => bottom - (value / yMax) * plotHeight;
  const yRate = (rate: number) => bottom - rate * plotHeight;
  const centre = (i: number) => MARGIN.left + slot * (i + 0.5);
  // Every label fits up to about 31 days; beyond that every k-th day is labelled.
  const labelEvery = Math.max(1, Math.ceil(days.length / 31));
  const slanted = slot < 44;

  const ticks: number[] = [];
  for (let v = 0; v <= yMax; v += step) ticks.push(v);

  const gridAndAxes = html`<g class="axes" font-size="11" fill="#5c6678">
  ${ticks.map(
    (
      v,
    ) => html`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${r1(y(v))}" y2="${r1(y(v))}" stroke="#d9dee7"${v === 0 ? html` stroke-width="1.5" stroke="#5c6678"` : ''}/>
  <text x="${MARGIN.left - 8}" y="${r1(y(v) + 4)}" text-anchor="end" data-tick="${v}">${v}</text>`,
  )}
  ${[0, 0.25, 0.5, 0.75, 1].map(
    (rate) =>
      html`<text x="${WIDTH - MARGIN.right + 8}" y="${r1(yRate(rate) + 4)}" fill="${UTILISATION_COLOUR}" data-rate-tick="${rate}">${rate * 100}%</text>`,
  )}
  <text transform="translate(16 ${r1(MARGIN.top + plotHeight / 2)}) rotate(-90)" text-anchor="middle" font-size="12">classes booked per day</text>
  <text transform="translate(${WIDTH - 10} ${r1(MARGIN.top + plotHeight / 2)}) rotate(90)" text-anchor="middle" font-size="12" fill="${UTILISATION_COLOUR}">utilisation</text>
</g>`;

  const bars = days.map((d, i) => {
    const x = r1(centre(i) - barWidth / 2);
    const label =
      i % labelEvery === 0
        ? html`<text class="day-label" x="${r1(centre(i))}" y="${bottom + 16}" font-size="11" fill="#5c6678" text-anchor="${slanted ? 'end' : 'middle'}"${slanted ? html` transform="rotate(-45 ${r1(centre(i))} ${bottom + 16})"` : ''}>${d.day.slice(5)}</text>`
        : '';
    if (!d.row) {
      return html`<g class="day uncomputed" data-day="${d.day}" data-computed="false">
  <rect x="${x}" y="${MARGIN.top}" width="${r1(barWidth)}" height="${plotHeight}" fill="#f1f3f7" stroke="#9aa3b2" stroke-dasharray="4 3"><title>${d.day}: not computed yet</title></rect>
  <text x="${r1(centre(i))}" y="${r1(MARGIN.top + plotHeight / 2)}" font-size="11" fill="#5c6678" text-anchor="middle" transform="rotate(-90 ${r1(centre(i))} ${r1(MARGIN.top + plotHeight / 2)})">not computed</text>
  ${label}
</g>`;
    }
    const row = d.row;
    let base = 0;
    const segments = SERIES.map((s) => {
      const value = row[s.key];
      const top = y(base + value);
      const height = y(base) - top;
      base += value;
      if (value === 0) return '';
      return html`<rect class="bar" x="${x}" y="${r1(top)}" width="${r1(barWidth)}" height="${r1(height)}" fill="${s.colour}" data-series="${s.key}" data-value="${value}"><title>${d.day} · ${s.label.toLowerCase()}: ${value}</title></rect>${
        height >= 15 && barWidth >= 16
          ? html`<text class="bar-value" x="${r1(centre(i))}" y="${r1(top + height / 2 + 4)}" font-size="11" fill="#fff" text-anchor="middle" data-series="${s.key}">${value}</text>`
          : ''
      }`;
    });
    return html`<g class="day" data-day="${d.day}" data-computed="true" data-attended="${row.attended}" data-no-shows="${row.noShows}" data-cancelled="${row.cancelled}">
  ${segments}
  <text class="bar-total" x="${r1(centre(i))}" y="${r1(y(base) - 5)}" font-size="11" font-weight="600" fill="#1d2330" text-anchor="middle" data-value="${base}">${base}</text>
  ${label}
</g>`;
  });

  // Utilisation: points on the right-hand axis, joined only between neighbouring days that both have one.
  const points = days.map((d, i) =>
    d.utilisation === null ? undefined : { x: r1(centre(i)), y: r1(yRate(d.utilisation)), d },
  );
  const segments: string[] = [];
  points.forEach((p, i) => {
    const next = points[i + 1];
    if (p && next) segments.push(`M${p.x} ${p.y}L${next.x} ${next.y}`);
  });
  const utilisation = html`<g class="utilisation">
  ${segments.length ? html`<path d="${segments.join('')}" fill="none" stroke="${UTILISATION_COLOUR}" stroke-width="2"/>` : ''}
  ${points.map((p) =>
    p
      ? html`<circle cx="${p.x}" cy="${p.y}" r="4" fill="#fff" stroke="${UTILISATION_COLOUR}" stroke-width="2" data-day="${p.d.day}" data-utilisation="${percentLabel(p.d.utilisation!)}"><title>${p.d.day} · utilisation ${percentLabel(p.d.utilisation!)}</title></circle>
  <text x="${p.x}" y="${r1(p.y - 9)}" font-size="10" fill="${UTILISATION_COLOUR}" text-anchor="middle">${percentLabel(p.d.utilisation!)}</text>`
      : '',
  )}
</g>`;

  const legendItems = [
    ...SERIES.map((s) => ({ label: s.label, mark: html`<rect width="12" height="12" fill="${s.colour}"/>` })),
    {
      label: 'Utilisation (수업 소진률, right axis)',
      mark: html`<line x1="0" x2="14" y1="6" y2="6" stroke="${UTILISATION_COLOUR}" stroke-width="2"/><circle cx="7" cy="6" r="3.5" fill="#fff" stroke="${UTILISATION_COLOUR}" stroke-width="2"/>`,
    },
    {
      label: 'Not computed yet',
      mark: html`<rect width="12" height="12" fill="#f1f3f7" stroke="#9aa3b2" stroke-dasharray="3 2"/>`,
    },
  ];
  let legendX = MARGIN.left;
  const legend = html`<g class="legend" font-size="12" fill="#1d2330">${legendItems.map((item) => {
    const at = legendX;
    legendX += 34 + item.label.length * 7;
    return html`<g transform="translate(${at} 14)" data-legend="${item.label}">${item.mark}<text x="20" y="11">${item.label}</text></g>`;
  })}</g>`;

  return html`<svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">
<title id="chart-title">${caption}</title>
<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>
${legend}
${gridAndAxes}
${bars}
${utilisation}
<text x="${r1(MARGIN.left + plotWidth / 2)}" y="${HEIGHT - 6}" font-size="12" fill="#5c6678" text-anchor="middle">business day</text>
</svg>`;
}
