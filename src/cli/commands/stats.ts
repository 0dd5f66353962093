import {
  attendanceRate,
  computedDays,
  missingDays,
  PERIODS,
  type Period,
  percent,
  ratio,
  readStatistics,
  type StatisticsRow,
  utilisation,
} from '../../db/queries/statistics.ts';
import { addDays, isBusinessDay } from '../../time.ts';
import {
  type Command,
  type OptionSpec,
  optionalString,
  requireString,
  table,
  UsageError,
} from '../command.ts';
import { writeOutFile } from '../out-file.ts';

/**
 * `ptpass stats show` and `ptpass stats export`: the rows the `statistics` job stored, by day, ISO week or
 * month. Rollups are derived from the daily rows at read time (src/db/queries/statistics.ts); rates are
 * computed from the summed inputs, never averaged.
 */

/** A read over ten years is a mistake, not a report. */
const MAX_SHOW_DAYS = 3660;

const rangeOptions: Record<string, OptionSpec> = {
  from: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'First business day (required)' },
  to: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'Last business day, inclusive (required)' },
  period: {
    type: 'string',
    placeholder: 'day|week|month',
    description: 'Rows per day (default), ISO week or month',
  },
  'by-package': {
    type: 'boolean',
    description: 'One row per package and period instead of the studio totals',
  },
};

interface StatsQuery {
  from: string;
  to: string;
  period: Period;
  byPackage: boolean;
}

function parseQuery(values: Record<string, unknown>): StatsQuery {
  const from = requireString(values, 'from');
  const to = requireString(values, 'to');
  for (const [name, day] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (!isBusinessDay(day)) throw new UsageError(`--${name} '${day}' is not a calendar day YYYY-MM-DD`);
  }
  if (from > to) throw new UsageError(`--to ${to} is before --from ${from}`);
  if (to > addDays(from, MAX_SHOW_DAYS - 1))
    throw new UsageError(`the range is longer than ${MAX_SHOW_DAYS} days; ask for a shorter one`);
  const period = optionalString(values, 'period') ?? 'day';
  if (!PERIODS.includes(period as Period))
    throw new UsageError(`--period '${period}' must be one of ${PERIODS.join(', ')}`);
  return { from, to, period: period as Period, byPackage: values['by-package'] === true };
}

/**
 * The figures of a row, in display order: the terminal table's short header, the CSV column, and the value
 * (a count, or a rate shown as a percentage in the table and as a ratio in CSV and JSON).
 */
type FigureColumn = { short: string; csv: string } & (
  | { count: (row: StatisticsRow) => number }
  | { rate: (row: StatisticsRow) => number | null }
);

const FIGURE_COLUMNS: readonly FigureColumn[] = [
  { short: 'bookings', csv: 'bookings', count: (r) => r.bookings },
  { short: 'attended', csv: 'attended', count: (r) => r.attended },
  { short: 'no-shows', csv: 'no_shows', count: (r) => r.noShows },
  { short: 'attend', csv: 'attendance_rate', rate: attendanceRate },
  { short: 'cancelled', csv: 'cancelled', count: (r) => r.cancelled },
  { short: 'deducted', csv: 'sessions_deducted', count: (r) => r.sessionsDeducted },
  { short: 'issued', csv: 'passes_issued', count: (r) => r.passesIssued },
  { short: 'expired', csv: 'passes_expired', count: (r) => r.passesExpired },
  { short: 'active', csv: 'active_passes', count: (r) => r.activePasses },
  { short: 'ending', csv: 'ending_passes', count: (r) => r.endingPasses },
  { short: 'sold', csv: 'ending_sessions_sold', count: (r) => r.endingSessionsSold },
  { short: 'used', csv: 'ending_sessions_used', count: (r) => r.endingSessionsUsed },
  { short: 'utilised', csv: 'utilisation', rate: utilisation },
];

function figures<R>(row: StatisticsRow, formatRate: (rate: number | null) => R): Array<number | R> {
  return FIGURE_COLUMNS.map((column) =>
    'count' in column ? column.count(row) : formatRate(column.rate(row)),
  );
}

function missingNote(query: StatsQuery, missing: string[]): string | undefined {
  if (missing.length === 0) return undefined;
  return (
    `note: ${missing.length} day(s) from ${query.from} to ${query.to} have no statistics yet (first: ${missing[0]}); ` +
    `compute them with: ptpass job run statistics --from ${missing[0]} --to ${missing.at(-1)} --wait`
  );
}

async function load(values: Record<string, unknown>, ctx: Parameters<Command['run']>[1]) {
  const query = parseQuery(values);
  const db = await ctx.db();
  const [rows, computed] = await Promise.all([readStatistics(db, query), computedDays(db, query)]);
  return { query, rows, missing: missingDays(query, computed) };
}

function jsonRow(row: StatisticsRow) {
  return { ...row, attendanceRate: ratio(attendanceRate(row)), utilisation: ratio(utilisation(row)) };
}

export const statsShowCommand: Command = {
  words: ['stats', 'show'],
  summary: 'Statistics by day, ISO week or month, as a table.',
  details: [
    'Rows come from the `statistics` job (ptpass job run statistics --day D | --from F --to T). Weeks are ISO',
    'weeks labelled with their ISO year (2026-W53 runs into January 2027); a period cut by --from/--to sums only',
    'the days inside the range (see the days column). Active passes is the count at the end of the last day.',
    'Attendance = attended / (attended + no-shows); utilisation = sessions used / sessions sold on the passes',
    'that ended in the period. Days never computed are named in a note.',
  ].join('\n'),
  options: rangeOptions,
  async run({ values }, ctx) {
    const { query, rows, missing } = await load(values, ctx);
    const json = { ...query, rows: rows.map(jsonRow), missingDays: missing };
    const header = [
      query.period,
      ...(query.byPackage ? ['package'] : []),
      'days',
      ...FIGURE_COLUMNS.map((c) => c.short),
    ];
    const body = rows.map((r) => [
      r.period,
      ...(query.byPackage ? [`${r.packageId} ${r.packageName ?? ''}`.trim()] : []),
      r.days,
      ...figures(r, percent),
    ]);
    const lines = [rows.length ? table(header, body) : `no statistics from ${query.from} to ${query.to}`];
    const note = missingNote(query, missing);
    if (note) lines.push(note);
    return { json, text: lines.join('\n') };
  },
};

export const CSV_HEADER = [
  'period',
  'first_day',
  'last_day',
  'days',
  'package_id',
  'package_name',
  ...FIGURE_COLUMNS.map((c) => c.csv),
];

/** A byte-order mark: Excel reads a CSV without one in the system's legacy code page (Korean garbled). */
export const UTF8_BOM = '\uFEFF';

/**
 * One RFC 4180 field: quoted when it holds a comma, quote, CR or LF; quotes doubled. A text cell that
 * starts with `=`, `+`, `-`, `@`, a tab or a CR is prefixed with `'` so a spreadsheet shows it as text instead
 * of running it as a formula (CSV injection, OWASP). Numbers are never altered.
 */
export function csvField(value: string | number | null): string {
  let text = value === null ? '' : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * RFC 4180: a header row, CRLF after every record, a UTF-8 BOM first unless `bom` is false. Rates are
 * ratios (0.8333), empty when undefined.
 */
export function toCsv(rows: StatisticsRow[], options: { bom?: boolean } = {}): string {
  const records = rows.map((r) => [
    r.period,
    r.firstDay,
    r.lastDay,
    r.days,
    r.packageId,
    r.packageName,
    ...figures(r, ratio),
  ]);
  const body = [[...CSV_HEADER], ...records]
    .map((fields) => `${fields.map(csvField).join(',')}\r\n`)
    .join('');
  return options.bom === false ? body : UTF8_BOM + body;
}

export const statsExportCommand: Command = {
  words: ['stats', 'export'],
  summary: 'Statistics by day, ISO week or month as RFC 4180 CSV (stdout, or --out FILE).',
  details: [
    'Columns: period, first_day, last_day, days, package_id, package_name (empty for studio totals), the figures,',
    'attendance_rate and utilisation as ratios (empty when there is nothing to divide by). --out writes the',
    'file whole or not at all; with --json it prints a summary instead of the rows. The CSV starts with a UTF-8',
    'byte-order mark so Excel reads Korean package names right (--no-bom to omit it); text cells starting with',
    "= + - @, a tab or a CR are prefixed with ' so a spreadsheet never runs them as formulas.",
  ].join('\n'),
  options: {
    ...rangeOptions,
    out: { type: 'string', placeholder: 'FILE', description: 'Write the CSV to FILE instead of stdout' },
    'no-bom': {
      type: 'boolean',
      description: 'Omit the UTF-8 byte-order mark (written by default for Excel)',
    },
  },
  async run({ values }, ctx) {
    const out = optionalString(values, 'out');
    if (values.json === true && out === undefined)
      throw new UsageError(
        '--json prints a summary of the file; give --out FILE (CSV goes to stdout otherwise)',
      );
    const { query, rows, missing } = await load(values, ctx);
    const csv = toCsv(rows, { bom: values['no-bom'] !== true });
    const note = missingNote(query, missing);
    if (out === undefined) {
      ctx.stdout(csv);
      if (note) ctx.progress(note);
      return undefined;
    }
    const file = await writeOutFile(out, csv);
    if (note) ctx.progress(note);
    return {
      json: { file, rows: rows.length, ...query, missingDays: missing },
      text: `wrote ${rows.length} row(s) to ${out}`,
    };
  },
};
