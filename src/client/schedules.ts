import { createHash } from 'node:crypto';
import {
  type Client,
  type ScheduleDescription,
  ScheduleNotFoundError,
  type ScheduleOptions,
} from '@temporalio/client';
import { findJob } from '../jobs/index.ts';
import {
  type CalendarDeclaration,
  type Range,
  SCHEDULES,
  type ScheduleDeclaration,
} from '../jobs/schedules.ts';
import { formatBusinessTime } from '../time.ts';

/**
 * Makes Temporal's schedules match the declaration in src/jobs/schedules.ts, and the operator verbs on
 * them. The same schedules are readable and operable with `temporal schedule list|describe|trigger`.
 */

export interface ScheduleDeps {
  client: Client;
  taskQueue: string;
  businessTimeZone: string;
}

const MANAGED_BY = 'ptpass';

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

function calendarSpec(calendar: CalendarDeclaration) {
  return {
    minute: calendar.minute ?? 0,
    hour: calendar.hour ?? 0,
    ...(calendar.dayOfWeek ? { dayOfWeek: calendar.dayOfWeek } : {}),
    comment: describeCalendar(calendar),
  };
}

/**
 * The calendar in words ("every 5 minutes", "daily at 00:05", "Sundays at 03:30"): the comment Temporal keeps
 * on the structured calendar spec, so the Web UI and `temporal schedule describe` show it as written here.
 */
export function describeCalendar(calendar: CalendarDeclaration): string {
  const { minute = 0, hour = 0, dayOfWeek = '*' } = calendar;
  const pad = (n: number) => String(n).padStart(2, '0');
  const days = dayOfWeek === '*' ? '' : `${dayOfWeek[0]}${dayOfWeek.slice(1).toLowerCase()}s `;
  if (hour === '*' && minute === '*') return `${days}every minute`;
  if (hour === '*' && typeof minute === 'object' && minute.start === 0 && minute.end === 59)
    return `${days}every ${minute.step} minutes`;
  if (hour === '*' && typeof minute === 'number') return `${days}hourly at :${pad(minute)}`;
  if (typeof hour === 'number' && typeof minute === 'number')
    return `${dayOfWeek === '*' ? 'daily ' : days}at ${pad(hour)}:${pad(minute)}`;
  const part = (r: Range | '*'): string =>
    r === '*' || typeof r === 'number' ? String(r) : `${r.start}-${r.end}/${r.step}`;
  return `${days}minute ${part(minute)}, hour ${part(hour)}`;
}

/** A fingerprint of everything `apply` controls; kept on the action so a changed declaration is noticed. */
function fingerprint(decl: ScheduleDeclaration, deps: ScheduleDeps): string {
  const material = JSON.stringify({
    decl,
    comment: describeCalendar(decl.calendar),
    taskQueue: deps.taskQueue,
    tz: deps.businessTimeZone,
  });
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}

export function scheduleOptions(decl: ScheduleDeclaration, deps: ScheduleDeps): ScheduleOptions {
  const job = findJob(decl.job);
  if (!job) throw new ScheduleError(`schedule ${decl.job} names no job`);
  return {
    scheduleId: decl.job,
    spec: { calendars: [calendarSpec(decl.calendar)], timezone: deps.businessTimeZone },
    action: {
      type: 'startWorkflow',
      workflowType: job.workflowType,
      // Temporal appends the nominal time: `<job>-2026-11-22T00:05:00Z`, the job instance ID.
      workflowId: decl.job,
      taskQueue: deps.taskQueue,
      args: [{}],
      memo: { ptpassSchedule: fingerprint(decl, deps) },
    },
    policies: { overlap: decl.overlap, catchupWindow: decl.catchupWindow },
    memo: { managedBy: MANAGED_BY },
    state: { note: decl.note },
  };
}

export type ApplyChange = { scheduleId: string; change: 'created' | 'updated' | 'unchanged' | 'deleted' };

async function describeOrUndefined(
  client: Client,
  scheduleId: string,
): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/** Creates or updates every declared schedule; leaves a paused schedule paused. Applying twice changes nothing. */
export async function applySchedules(deps: ScheduleDeps, declarations = SCHEDULES): Promise<ApplyChange[]> {
  const changes: ApplyChange[] = [];
  for (const decl of declarations) {
    const options = scheduleOptions(decl, deps);
    const current = await describeOrUndefined(deps.client, options.scheduleId);
    if (!current) {
      await deps.client.schedule.create(options);
      changes.push({ scheduleId: options.scheduleId, change: 'created' });
      continue;
    }
    const want = fingerprint(decl, deps);
    const have = (current.action.memo as { ptpassSchedule?: string } | undefined)?.ptpassSchedule;
    if (have === want) {
      changes.push({ scheduleId: options.scheduleId, change: 'unchanged' });
      continue;
    }
    await deps.client.schedule.getHandle(options.scheduleId).update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: options.policies,
      // The operator's pause state and note stay as they are.
      state: previous.state,
    }));
    changes.push({ scheduleId: options.scheduleId, change: 'updated' });
  }
  // Schedules ptpass created for jobs that no longer have one are removed.
  const declared = new Set(declarations.map((d) => d.job as string));
  for await (const summary of deps.client.schedule.list()) {
    if (declared.has(summary.scheduleId)) continue;
    if ((summary.memo as { managedBy?: string } | undefined)?.managedBy !== MANAGED_BY) continue;
    await deps.client.schedule.getHandle(summary.scheduleId).delete();
    changes.push({ scheduleId: summary.scheduleId, change: 'deleted' });
  }
  return changes;
}

export interface ScheduleState {
  scheduleId: string;
  job: string;
  calendar: string;
  timeZone: string;
  paused: boolean;
  note: string | null;
  nextRuns: string[];
  lastRun: string | null;
  overlap: string;
  exists: boolean;
}

export async function listSchedules(deps: ScheduleDeps, declarations = SCHEDULES): Promise<ScheduleState[]> {
  const states: ScheduleState[] = [];
  for (const decl of declarations) {
    const current = await describeOrUndefined(deps.client, decl.job);
    const recent = current?.info.recentActions ?? [];
    states.push({
      scheduleId: decl.job,
      job: decl.job,
      calendar: describeCalendar(decl.calendar),
      timeZone: deps.businessTimeZone,
      paused: current?.state.paused ?? false,
      note: current?.state.note ?? null,
      nextRuns: (current?.info.nextActionTimes ?? []).slice(0, 3).map((d) => d.toISOString()),
      lastRun: recent.length ? (recent[recent.length - 1]?.scheduledAt.toISOString() ?? null) : null,
      overlap: decl.overlap,
      exists: current !== undefined,
    });
  }
  return states;
}

function knownSchedule(scheduleId: string, declarations = SCHEDULES): void {
  if (!declarations.some((d) => d.job === scheduleId)) {
    throw new ScheduleError(
      `unknown schedule '${scheduleId}' (schedules: ${declarations.map((d) => d.job).join(', ')})`,
    );
  }
}

async function existingHandle(client: Client, scheduleId: string) {
  if (!(await describeOrUndefined(client, scheduleId))) {
    throw new ScheduleError(
      `schedule '${scheduleId}' does not exist in Temporal yet; run \`ptpass schedules apply\``,
    );
  }
  return client.schedule.getHandle(scheduleId);
}

export async function pauseSchedule(deps: ScheduleDeps, scheduleId: string, note?: string): Promise<void> {
  knownSchedule(scheduleId);
  await (await existingHandle(deps.client, scheduleId)).pause(note ?? 'paused with ptpass schedules pause');
}

/**
 * Resumes a paused schedule. Temporal does not run the times a schedule missed while paused (its catch-up
 * window covers a server outage, not a pause): what resumed says when the last run before the pause was,
 * so the caller can name the missed times and the backfill that runs them (`schedules backfill`).
 */
/**
 * What a resume says of the times the schedule missed while paused (Temporal does not run them): after
 * which run, and the backfill that runs them, from the second after that run to this one. Undefined when
 * it was not paused, never ran, or was paused for less than a second.
 */
export function missedWhilePaused(
  scheduleId: string,
  resumed: { wasPaused: boolean; lastRunAt: Date | null },
  now: Date,
  timeZone: string,
): { after: string; backfill: string } | undefined {
  const since = resumed.wasPaused ? resumed.lastRunAt : null;
  if (!since) return undefined;
  const from = new Date(Math.floor(since.getTime() / 1000) * 1000 + 1000);
  const to = new Date(Math.floor(now.getTime() / 1000) * 1000);
  if (from >= to) return undefined;
  return {
    after: `${formatBusinessTime(since, timeZone)} (${timeZone})`,
    backfill: `ptpass schedules backfill ${scheduleId} --from ${from.toISOString()} --to ${to.toISOString()}`,
  };
}

export async function resumeSchedule(
  deps: ScheduleDeps,
  scheduleId: string,
  note?: string,
): Promise<{ wasPaused: boolean; lastRunAt: Date | null }> {
  knownSchedule(scheduleId);
  const declared = SCHEDULES.find((d) => d.job === scheduleId);
  const handle = await existingHandle(deps.client, scheduleId);
  const description = await handle.describe();
  await handle.unpause(note ?? declared?.note);
  return {
    wasPaused: description.state.paused,
    lastRunAt: description.info.recentActions.at(-1)?.scheduledAt ?? null,
  };
}

export async function triggerSchedule(deps: ScheduleDeps, scheduleId: string): Promise<void> {
  knownSchedule(scheduleId);
  await (await existingHandle(deps.client, scheduleId)).trigger();
}

/** Runs the schedule for every nominal time in [from, to) that its calendar matches (missed days). */
export async function backfillSchedule(
  deps: ScheduleDeps,
  scheduleId: string,
  from: Date,
  to: Date,
): Promise<void> {
  knownSchedule(scheduleId);
  if (!(to.getTime() > from.getTime())) throw new ScheduleError('--to must be after --from');
  // Temporal's backfill range is inclusive at both ends; stop one second short of `to`.
  await (await existingHandle(deps.client, scheduleId)).backfill({
    start: from,
    end: new Date(to.getTime() - 1000),
    // One run after another: a day of a per-minute schedule must not start 1,440 runs at once.
    overlap: 'BUFFER_ALL',
  });
}
