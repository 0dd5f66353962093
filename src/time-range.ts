import { addDays, isBusinessDay, startOfBusinessDay } from './time.ts';

/**
 * The days and times the admin web and the API accept: business days from 2000-01-01 to 2100-12-31 in
 * BUSINESS_TIMEZONE. One rule for every date or time either of them reads — the dashboard's last day, the
 * hold, closure and bulk pass forms, and every API instant (`parseTimes`). A studio has no use for other
 * days (a date picker's 9999-12-31 is a slip), and near year 10000 the calendar arithmetic and ISO-8601
 * output stop working (`addDays('9999-12-31', 1)` is `+010000-01-01`). What is computed from an accepted
 * day stays well inside year 9999: a pass end is at most 100,000 days (the longest package period) on.
 */
export const FIRST_DAY = '2000-01-01';
export const LAST_DAY = '2100-12-31';

/** The range as the messages name it. */
export const DAY_RANGE = `${FIRST_DAY} to ${LAST_DAY}`;

/** A day is outside the range; a text that is no calendar day is not (its own message says so). */
export function isDayOutOfRange(day: string): boolean {
  return isBusinessDay(day) && (day < FIRST_DAY || day > LAST_DAY);
}

/** An instant that falls on a business day outside the range. */
export function isInstantOutOfRange(instant: Date, timeZone: string): boolean {
  const t = instant.getTime();
  return (
    t < startOfBusinessDay(FIRST_DAY, timeZone).getTime() ||
    t >= startOfBusinessDay(addDays(LAST_DAY, 1), timeZone).getTime()
  );
}
