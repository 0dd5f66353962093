import type { JobName } from './index.ts';

/**
 * Every job's Temporal Schedule, in one declaration. Calendars are read in BUSINESS_TIMEZONE.
 * `ptpass schedules apply` (and `npm start`) make Temporal match this list.
 *
 * A scheduled run's workflow ID is `<scheduleId>-<nominal time>`, which is exactly the job instance ID
 * (`jobWorkflowId`) because the schedule ID is the job name, and the run's logical time is the nominal
 * time (see `scheduledTimeOr` in src/workflows/run-job.ts).
 */

export type Range = number | { start: number; end: number; step: number };
export interface CalendarDeclaration {
  minute?: Range | '*';
  hour?: Range | '*';
  dayOfWeek?: 'SUNDAY' | 'MONDAY' | 'TUESDAY' | 'WEDNESDAY' | 'THURSDAY' | 'FRIDAY' | 'SATURDAY' | '*';
}

export interface ScheduleDeclaration {
  /** Also the schedule ID. */
  job: JobName;
  calendar: CalendarDeclaration;
  /** What happens when the previous run is still going at the next tick. */
  overlap: 'SKIP' | 'BUFFER_ONE' | 'ALLOW_ALL';
  /** How far back missed runs are caught up after an outage. */
  catchupWindow: string;
  note: string;
}

export const SCHEDULES: readonly ScheduleDeclaration[] = [
  {
    job: 'class-reminders',
    calendar: { hour: '*', minute: '*' },
    overlap: 'SKIP',
    catchupWindow: '10 minutes',
    note: 'Every minute: remind members of classes starting in the next 10 minutes; send held reminders.',
  },
  {
    job: 'pass-lifecycle',
    calendar: { hour: '*', minute: { start: 0, end: 59, step: 5 } },
    overlap: 'SKIP',
    catchupWindow: '1 day',
    note: 'Every 5 minutes: activate passes whose start has come, expire passes that ended or ran out.',
  },
  {
    job: 'issue-bulk-passes',
    calendar: { hour: '*', minute: 0 },
    overlap: 'SKIP',
    catchupWindow: '1 hour',
    note: 'Hourly safety net: issue any due bulk pass its own workflow (started by the grant) has not issued.',
  },
  {
    job: 'deduct-sessions',
    calendar: { hour: '*', minute: { start: 0, end: 59, step: 5 } },
    overlap: 'SKIP',
    catchupWindow: '1 hour',
    note: 'Every 5 minutes: each booking whose class ended takes one session from its pass, once.',
  },
  {
    job: 'pass-expiry-reminders',
    calendar: { hour: 10, minute: 0 },
    overlap: 'SKIP',
    catchupWindow: '1 day',
    note: 'Daily 10:00: remind members whose pass ends soon or has one session left (quiet hours respected).',
  },
  {
    job: 'statistics',
    calendar: { hour: 1, minute: 0 },
    overlap: 'SKIP',
    catchupWindow: '2 days',
    note: "Daily 01:00: yesterday's bookings, attendance, no-shows and pass figures.",
  },
  {
    job: 'prune-run-records',
    calendar: { dayOfWeek: 'SUNDAY', hour: 3, minute: 30 },
    overlap: 'SKIP',
    catchupWindow: '7 days',
    note: 'Weekly, Sunday 03:30: delete run records, API idempotency keys and finished imports older than the retention age.',
  },
];
