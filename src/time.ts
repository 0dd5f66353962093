/**
 * Business time: "a day" is a day in BUSINESS_TIMEZONE, computed here and nowhere else.
 * Pure Intl arithmetic (no Node built-ins), so workflows may use it too.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock reading of an instant in a time zone. */
export function localParts(instant: Date, timeZone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** Offset of the zone from UTC at an instant, in milliseconds (Asia/Seoul: +9h). */
export function zoneOffsetMs(instant: Date, timeZone: string): number {
  const p = localParts(instant, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The instant a wall-clock time in the zone denotes (the earlier one in a DST overlap). */
export function zonedTimeToInstant(local: LocalParts, timeZone: string): Date {
  const naive = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  let guess = naive - zoneOffsetMs(new Date(naive), timeZone);
  // A second pass settles instants near an offset change.
  guess = naive - zoneOffsetMs(new Date(guess), timeZone);
  return new Date(guess);
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isBusinessDay(text: string): boolean {
  const m = DAY_RE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** The business day (YYYY-MM-DD) an instant falls on. */
export function businessDayOf(instant: Date, timeZone: string): string {
  const p = localParts(instant, timeZone);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** An instant as the studio reads it, to the second: `2026-11-22 09:05:00` in the business time zone. */
export function formatBusinessTime(instant: Date, timeZone: string): string {
  const p = localParts(instant, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${businessDayOf(instant, timeZone)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}

/** The first instant of a business day: days are the half-open interval [start, start of next day). */
export function startOfBusinessDay(day: string, timeZone: string): Date {
  const m = DAY_RE.exec(day);
  if (!m || !isBusinessDay(day)) throw new RangeError(`not a calendar day: '${day}' (expected YYYY-MM-DD)`);
  return zonedTimeToInstant(
    { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: 0, minute: 0, second: 0 },
    timeZone,
  );
}

export function addDays(day: string, days: number): string {
  const m = DAY_RE.exec(day);
  if (!m) throw new RangeError(`not a calendar day: '${day}'`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days)).toISOString().slice(0, 10);
}

const INSTANT_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses a user-entered instant: ISO-8601 with `Z` or an offset, or a wall-clock time without one, which
 * is read in the business time zone (what a studio means by "10:00"). Returns undefined when malformed.
 */
export function parseInstant(text: string, timeZone: string): Date | undefined {
  const m = INSTANT_RE.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const local = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(s ?? 0),
  };
  if (local.month < 1 || local.month > 12 || local.hour > 23 || local.minute > 59 || local.second > 59)
    return undefined;
  if (!isBusinessDay(`${y}-${mo}-${d}`)) return undefined;
  if (m[7]) {
    const parsed = new Date(text.trim().replace(' ', 'T'));
    return Number.isNaN(parsed.getTime()) ? undefined : parsed;
  }
  return zonedTimeToInstant(local, timeZone);
}
