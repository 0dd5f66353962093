import type { ScheduleDeps } from '../../client/schedules.ts';
import type { Config } from '../../config.ts';
import { SCHEDULES } from '../../jobs/schedules.ts';
import { addDays, formatBusinessTime, isBusinessDay, parseInstant, startOfBusinessDay } from '../../time.ts';
import {
  type CliContext,
  type Command,
  optionalString,
  requireString,
  table,
  UsageError,
} from '../command.ts';

const IDS = SCHEDULES.map((s) => s.job).join(', ');

/** The schedule client (and the Temporal SDK under it), loaded when a schedule command runs. */
const schedules = () => import('../../client/schedules.ts');

async function scheduleDeps(ctx: CliContext): Promise<ScheduleDeps> {
  return {
    client: await ctx.temporal(),
    taskQueue: ctx.config.taskQueue,
    businessTimeZone: ctx.config.businessTimeZone,
  };
}

function scheduleId(positionals: string[]): string {
  const [id, extra] = positionals;
  if (!id) throw new UsageError(`which schedule? (schedules: ${IDS})`);
  if (extra) throw new UsageError(`unexpected argument '${extra}'`);
  if (!SCHEDULES.some((s) => s.job === id))
    throw new UsageError(`unknown schedule '${id}' (schedules: ${IDS})`);
  return id;
}

async function operate(run: () => Promise<void>) {
  try {
    await run();
  } catch (err) {
    if (err instanceof (await schedules()).ScheduleError) throw new UsageError(err.message);
    throw err;
  }
}

export const schedulesApplyCommand: Command = {
  words: ['schedules', 'apply'],
  summary: 'Create or update every job schedule to match the declaration (idempotent; keeps pauses).',
  options: {},
  async run(_input, ctx) {
    const changes = await (await schedules()).applySchedules(await scheduleDeps(ctx));
    return {
      json: changes,
      text: table(
        ['schedule', 'change'],
        changes.map((c) => [c.scheduleId, c.change]),
      ),
    };
  },
};

export const schedulesListCommand: Command = {
  words: ['schedules', 'list'],
  summary: 'Each schedule with its calendar, state, next runs and last run.',
  options: {},
  async run(_input, ctx) {
    const states = await (await schedules()).listSchedules(await scheduleDeps(ctx));
    const tz = ctx.config.businessTimeZone;
    const shown = (iso: string | null | undefined) => (iso ? formatBusinessTime(new Date(iso), tz) : '');
    return {
      json: states,
      text: table(
        ['schedule', 'calendar', 'state', `next run (${tz})`, `last run (${tz})`, 'note'],
        states.map((s) => [
          s.scheduleId,
          `${s.calendar} (${s.timeZone})`,
          !s.exists ? 'not applied' : s.paused ? 'PAUSED' : 'active',
          shown(s.nextRuns[0]),
          shown(s.lastRun),
          s.note ?? '',
        ]),
      ),
    };
  },
};

export const schedulesPauseCommand: Command = {
  words: ['schedules', 'pause'],
  args: '<schedule>',
  summary: 'Pause a schedule; no runs start until it is resumed.',
  options: {
    note: { type: 'string', placeholder: 'TEXT', description: 'Why (shown in list and the Web UI)' },
  },
  async run({ values, positionals }, ctx) {
    const id = scheduleId(positionals);
    const note = optionalString(values, 'note');
    await operate(async () => (await schedules()).pauseSchedule(await scheduleDeps(ctx), id, note));
    return { json: { scheduleId: id, paused: true, note: note ?? null }, text: `${id}: paused` };
  },
};

export const schedulesResumeCommand: Command = {
  words: ['schedules', 'resume'],
  args: '<schedule>',
  summary: 'Resume a paused schedule.',
  options: {
    note: { type: 'string', placeholder: 'TEXT', description: 'A note (default: the declared note)' },
  },
  async run({ values, positionals }, ctx) {
    const id = scheduleId(positionals);
    let resumed: { wasPaused: boolean; lastRunAt: Date | null } | undefined;
    await operate(async () => {
      resumed = await (await schedules()).resumeSchedule(
        await scheduleDeps(ctx),
        id,
        optionalString(values, 'note'),
      );
    });
    const missed =
      resumed && (await schedules()).missedWhilePaused(id, resumed, new Date(), ctx.config.businessTimeZone);
    return {
      json: { scheduleId: id, paused: false, missed: missed ?? null },
      // Temporal does not run the times missed during a pause: say so, with the command that runs them.
      text: missed
        ? `${id}: resumed\n  times it missed while paused (after ${missed.after}) do not run by themselves;\n  to run them: ${missed.backfill}`
        : `${id}: resumed`,
    };
  },
};

export const schedulesTriggerCommand: Command = {
  words: ['schedules', 'trigger'],
  args: '<schedule>',
  summary: 'Start the schedule’s job now (its logical time is now).',
  options: {},
  async run({ positionals }, ctx) {
    const id = scheduleId(positionals);
    await operate(async () => (await schedules()).triggerSchedule(await scheduleDeps(ctx), id));
    return {
      json: { scheduleId: id, triggered: true },
      text: `${id}: triggered; see \`ptpass runs list --job ${id}\``,
    };
  },
};

/** A --from/--to value: a business day (its start; --to's day is included) or an instant. */
function rangeBound(text: string, name: 'from' | 'to', config: Config): Date {
  if (isBusinessDay(text))
    return startOfBusinessDay(name === 'to' ? addDays(text, 1) : text, config.businessTimeZone);
  const instant = parseInstant(text, config.businessTimeZone);
  if (!instant)
    throw new UsageError(`--${name} '${text}' is neither a day (YYYY-MM-DD) nor an ISO-8601 time`);
  return instant;
}

export const schedulesBackfillCommand: Command = {
  words: ['schedules', 'backfill'],
  args: '<schedule>',
  summary: 'Run the schedule for every time its calendar matched in a past range (a missed day).',
  details: 'Days are business days: --from 2026-11-01 --to 2026-11-03 covers all three days.',
  options: {
    from: { type: 'string', placeholder: 'DAY|ISO', description: 'Start of the range (required)' },
    to: {
      type: 'string',
      placeholder: 'DAY|ISO',
      description: 'End of the range, its day included (required)',
    },
  },
  async run({ values, positionals }, ctx) {
    const id = scheduleId(positionals);
    const from = rangeBound(requireString(values, 'from'), 'from', ctx.config);
    const to = rangeBound(requireString(values, 'to'), 'to', ctx.config);
    if (to.getTime() <= from.getTime()) throw new UsageError('--to must not be before --from');
    if (to.getTime() > Date.now() + 60_000)
      throw new UsageError('--to is in the future; backfill covers times that have passed');
    await operate(async () => (await schedules()).backfillSchedule(await scheduleDeps(ctx), id, from, to));
    return {
      json: { scheduleId: id, from: from.toISOString(), to: to.toISOString() },
      text: `${id}: backfill requested for [${from.toISOString()}, ${to.toISOString()}); see \`ptpass runs list --job ${id}\``,
    };
  },
};

export const scheduleCommands = [
  schedulesApplyCommand,
  schedulesListCommand,
  schedulesPauseCommand,
  schedulesResumeCommand,
  schedulesTriggerCommand,
  schedulesBackfillCommand,
];
