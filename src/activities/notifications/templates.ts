import { localParts } from '../../time.ts';

/**
 * Every message ptpass sends, in one place. Korean is the default; English is available (NOTIFY_LOCALE).
 * Messages are rendered at delivery time from the database, so workflow payloads never hold them.
 */

export const NOTIFICATION_EVENTS = {
  classReminder: 'class-reminder',
  passExpiry: 'pass-expiry',
} as const;

export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[keyof typeof NOTIFICATION_EVENTS];

/** Why a pass-expiry reminder is sent; one reminder per pass and milestone. */
export type PassMilestone = 'ends-soon' | 'last-session';

export const LOCALES = ['ko', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

export type MessageData =
  | { event: 'class-reminder'; memberName: string; classStartsAt: Date }
  | {
      event: 'pass-expiry';
      milestone: PassMilestone;
      memberName: string;
      endsAt: Date | null;
      remainingSessions: number | null;
    };

export function renderMessage(data: MessageData, locale: Locale, timeZone: string): string {
  const when = (at: Date) => formatWhen(at, locale, timeZone);
  if (data.event === 'class-reminder') {
    return locale === 'ko'
      ? `${data.memberName}님, ${when(data.classStartsAt)}에 수업이 시작됩니다. 늦지 않게 와 주세요!`
      : `Hi ${data.memberName}, your class starts at ${when(data.classStartsAt)}. See you soon!`;
  }
  const left = data.remainingSessions;
  if (data.milestone === 'last-session') {
    const until = data.endsAt ? when(data.endsAt) : null;
    return locale === 'ko'
      ? `${data.memberName}님, 이용권의 남은 횟수가 1회입니다.${until ? ` (이용 기간: ${until}까지)` : ''} 재등록을 원하시면 센터에 문의해 주세요.`
      : `Hi ${data.memberName}, you have 1 session left on your pass${until ? ` (valid until ${until})` : ''}. Ask us about renewing.`;
  }
  const until = data.endsAt ? when(data.endsAt) : '';
  return locale === 'ko'
    ? `${data.memberName}님, 이용권이 ${until}에 만료됩니다.${left === null ? '' : ` 남은 횟수: ${left}회.`} 재등록을 원하시면 센터에 문의해 주세요.`
    : `Hi ${data.memberName}, your pass ends on ${until}.${left === null ? '' : ` Sessions left: ${left}.`} Ask us about renewing.`;
}

const KO_WEEKDAYS = ['일', '월', '화', '수', '목', '금', '토'];
const EN_WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/**
 * Formatted times by locale, zone and second. A page of reminders names a handful of class times, and
 * `Intl` time-zone arithmetic was ~13 µs of each delivery (worker CPU profile, 20,000 reminders).
 */
const formattedTimes = new Map<string, string>();
const FORMATTED_TIMES_KEPT = 2000;

/** A wall-clock time in the business time zone: `11월 22일(일) 19:30` or `Sun 22 Nov 19:30`. */
export function formatWhen(at: Date, locale: Locale, timeZone: string): string {
  const key = `${locale} ${timeZone} ${Math.floor(at.getTime() / 1000)}`;
  let text = formattedTimes.get(key);
  if (text === undefined) {
    if (formattedTimes.size >= FORMATTED_TIMES_KEPT) formattedTimes.clear();
    text = formatWhenUncached(at, locale, timeZone);
    formattedTimes.set(key, text);
  }
  return text;
}

function formatWhenUncached(at: Date, locale: Locale, timeZone: string): string {
  const p = localParts(at, timeZone);
  const weekday = new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay();
  const hhmm = `${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
  if (locale === 'ko') return `${p.month}월 ${p.day}일(${KO_WEEKDAYS[weekday]}) ${hhmm}`;
  const month = new Date(Date.UTC(p.year, p.month - 1, 1)).toLocaleString('en-US', {
    month: 'short',
    timeZone: 'UTC',
  });
  return `${EN_WEEKDAYS[weekday]} ${p.day} ${month} ${hhmm}`;
}

/** The operator's alert for a job run that failed after Temporal's retries. IDs, times and the error only. */
export function renderJobFailedAlert(
  alert: { job: string; asOf: Date; jobRunId: string; error: string },
  locale: Locale,
  timeZone: string,
): string {
  const when = formatWhen(alert.asOf, locale, timeZone);
  return locale === 'ko'
    ? `[ptpass] ${alert.job} 작업(기준 시각 ${when})이 실패했습니다: ${alert.error} — 실행 ${alert.jobRunId}, \`ptpass runs show ${alert.jobRunId}\``
    : `[ptpass] job ${alert.job} (as of ${when}) failed: ${alert.error} — run ${alert.jobRunId}, \`ptpass runs show ${alert.jobRunId}\``;
}
