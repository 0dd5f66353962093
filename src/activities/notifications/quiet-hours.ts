import type { QuietHours } from '../../jobs/pass-expiry-reminders.ts';
import { addDays, businessDayOf, localParts, zonedTimeToInstant } from '../../time.ts';

/**
 * `at` itself when it falls outside quiet hours in the business time zone; otherwise the instant the window
 * closes (the next 08:00 for the default 21:00–08:00, which wraps midnight).
 */
export function afterQuietHours(at: Date, quiet: QuietHours | null, timeZone: string): Date {
  if (!quiet) return at;
  const p = localParts(at, timeZone);
  const minute = p.hour * 60 + p.minute;
  const wraps = quiet.start > quiet.end;
  const inside = wraps
    ? minute >= quiet.start || minute < quiet.end
    : minute >= quiet.start && minute < quiet.end;
  if (!inside) return at;
  const today = businessDayOf(at, timeZone);
  const day = wraps && minute >= quiet.start ? addDays(today, 1) : today;
  const [year, month, date] = day.split('-').map(Number) as [number, number, number];
  return zonedTimeToInstant(
    { year, month, day: date, hour: Math.floor(quiet.end / 60), minute: quiet.end % 60, second: 0 },
    timeZone,
  );
}
