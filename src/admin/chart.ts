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
const MARGIN = { top: 56, right: 64, bottom: 64, left: 56 };
/** The legend's row ends here; the plot's labels stay below it. */
const LEGEND_BOTTOM = 30;

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

/** An axis-aligned box a label occupies, in chart coordinates. */
interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * A generous estimate of a label's box: every character as wide as 0.7 em (wider than digits, `%` and Latin
 * letters in system-ui; Hangul counts as 1.1 em), plus a pixel of padding. Labels are placed on these
 * estimates so that the rendered boxes, which are smaller, never touch (checked in a real browser by
 * test/admin-browser.test.ts).
 */
export function labelBox(
  text: string,
  x: number,
  baseline: number,
  fontSize: number,
  anchor: 'start' | 'middle' | 'end',
): Box {
  let width = 0;
  for (const ch of text)
    width += (/[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/.test(ch) ? 1.1 : 0.7) * fontSize;
  const x1 = anchor === 'start' ? x : anchor === 'middle' ? x - width / 2 : x - width;
  return { x1: x1 - 1, x2: x1 + width + 1, y1: baseline - fontSize - 1, y2: baseline + fontSize * 0.3 + 1 };
}

const overlaps = (a: Box, b: Box) => a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;

/** Labels placed so far; a label that would overlap one is moved or left out (its value stays in the tooltip). */
class LabelLayout {
  private readonly boxes: Box[] = [];
  fits(box: Box): boolean {
    return !this.boxes.some((b) => overlaps(b, box));
  }
  place(box: Box): void {
    this.boxes.push(box);
  }
  /** Places the first candidate that fits; undefined when none does. */
  placeFirst<T extends { box: Box }>(candidates: T[]): T | undefined {
    const found = candidates.find((c) => this.fits(c.box));
    if (found) this.place(found.box);
    return found;
  }
}

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
  const layout = new LabelLayout();
  // The legend row and the axis labels are fixed; everything placed later must keep clear of them.
  layout.place({ x1: 0, y1: 0, x2: WIDTH, y2: LEGEND_BOTTOM });
  for (const v of ticks) layout.place(labelBox(String(v), MARGIN.left - 8, y(v) + 4, 11, 'end'));
  for (const rate of [0, 0.25, 0.5, 0.75, 1])
    layout.place(labelBox(`${rate * 100}%`, WIDTH - MARGIN.right + 8, yRate(rate) + 4, 11, 'start'));

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
    if (i % labelEvery === 0) {
      // Day labels sit under the axis, one slot apart (slanted when the slots are narrow): they never meet.
      layout.place({ x1: centre(i) - slot / 2, x2: centre(i) + slot / 2, y1: bottom + 2, y2: HEIGHT });
    }
    const label =
      i % labelEvery === 0
        ? html`<text class="day-label" x="${r1(centre(i))}" y="${bottom + 16}" font-size="11" fill="#5c6678" text-anchor="${slanted ? 'end' : 'middle'}"${slanted ? html` transform="rotate(-45 ${r1(centre(i))} ${bottom + 16})"` : ''}>${d.day.slice(5)}</text>`
        : '';
    if (!d.row) {
      // Written up the dashed bar when there is room beside its neighbours' labels; the tooltip says it anyway.
      const mid = MARGIN.top + plotHeight / 2;
      const upright = layout.placeFirst([
        { box: { x1: centre(i) - 8, x2: centre(i) + 8, y1: mid - 50, y2: mid + 50 } },
      ]);
      return html`<g class="day uncomputed" data-day="${d.day}" data-computed="false">
  <rect x="${x}" y="${MARGIN.top}" width="${r1(barWidth)}" height="${plotHeight}" fill="#f1f3f7" stroke="#9aa3b2" stroke-dasharray="4 3"><title>${d.day}: not computed yet</title></rect>
  ${upright ? html`<text x="${r1(centre(i))}" y="${r1(mid)}" font-size="11" fill="#5c6678" text-anchor="middle" transform="rotate(-90 ${r1(centre(i))} ${r1(mid)})">not computed</text>` : ''}
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
      // A value is written inside its segment only when it fits there whole.
      const box = labelBox(String(value), centre(i), top + height / 2 + 4, 11, 'middle');
      const fits = height >= 15 && box.x2 - box.x1 <= barWidth && layout.fits(box);
      if (fits) layout.place(box);
      return html`<rect class="bar" x="${x}" y="${r1(top)}" width="${r1(barWidth)}" height="${r1(height)}" fill="${s.colour}" data-series="${s.key}" data-value="${value}"><title>${d.day} · ${s.label.toLowerCase()}: ${value}</title></rect>${
        fits
          ? html`<text class="bar-value" x="${r1(centre(i))}" y="${r1(top + height / 2 + 4)}" font-size="11" fill="#fff" text-anchor="middle" data-series="${s.key}">${value}</text>`
          : ''
      }`;
    });
    // The bar's total sits on top of it when there is room (a neighbour's wide total may take it).
    const totalBaseline = y(base) - 5;
    const totalFits = layout.placeFirst([
      { box: labelBox(String(base), centre(i), totalBaseline, 11, 'middle') },
    ]);
    return html`<g class="day" data-day="${d.day}" data-computed="true" data-attended="${row.attended}" data-no-shows="${row.noShows}" data-cancelled="${row.cancelled}" data-total="${base}">
  ${segments}
  ${totalFits ? html`<text class="bar-total" x="${r1(centre(i))}" y="${r1(totalBaseline)}" font-size="11" font-weight="600" fill="#1d2330" text-anchor="middle" data-value="${base}">${base}</text>` : ''}
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
  ${points.map((p) => {
    if (!p) return '';
    const text = percentLabel(p.d.utilisation!);
    // Above the point, else below it, else (no room among the bars' labels) only in the tooltip.
    const placed = layout.placeFirst(
      [p.y - 9, p.y + 16].map((baseline) => ({ baseline, box: labelBox(text, p.x, baseline, 10, 'middle') })),
    );
    return html`<circle cx="${p.x}" cy="${p.y}" r="4" fill="#fff" stroke="${UTILISATION_COLOUR}" stroke-width="2" data-day="${p.d.day}" data-utilisation="${text}"><title>${p.d.day} · utilisation ${text}</title></circle>
  ${placed ? html`<text class="utilisation-label" x="${p.x}" y="${r1(placed.baseline)}" font-size="10" fill="${UTILISATION_COLOUR}" text-anchor="middle">${text}</text>` : ''}`;
  })}
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
    const box = labelBox(item.label, 0, 0, 12, 'start');
    legendX += 34 + (box.x2 - box.x1);
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
