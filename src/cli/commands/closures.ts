import { formatBusinessTime, isBusinessDay } from '../../time.ts';
import { type Command, optionalString, positiveInt, requireString, table, UsageError } from '../command.ts';
import { operator, parseId } from './holds.ts';

/**
 * `ptpass closures add|list|bookings`: studio closures (holidays, renovations). Adding one records it and
 * starts the `apply-closure` job, which extends every pass active during it by the closed days, once.
 * Modules that reach the database or Temporal are imported inside each command's run.
 */

function day(values: Record<string, unknown>, name: string): string {
  const text = requireString(values, name).trim();
  if (!isBusinessDay(text)) throw new UsageError(`--${name} '${text}' is not a calendar day YYYY-MM-DD`);
  return text;
}

export const closuresAddCommand: Command = {
  words: ['closures', 'add'],
  summary: 'Close the studio for business days: every pass active then is extended by the closed days.',
  details: [
    'Records the closure and starts the apply-closure job (chunked, restartable; each pass is extended once per',
    'closure, however often it runs). A pass is extended by the closed days within its own days on which it is',
    'not on hold. Bookings inside the closure are not cancelled: `ptpass closures bookings <id>` lists them for',
    'the studio to cancel. Refused: a range overlapping another closure, more than 366 days (exit 2, nothing written).',
  ].join('\n'),
  options: {
    from: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'First closed day (required)' },
    to: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'Last closed day, inclusive (required)' },
    reason: { type: 'string', placeholder: 'TEXT', description: 'Why (required)' },
    by: { type: 'string', placeholder: 'NAME', description: 'Who closed it (default: this OS user)' },
    wait: { type: 'boolean', description: 'Wait for the passes to be extended and print how many' },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const closure = {
      startsOn: day(values, 'from'),
      endsOn: day(values, 'to'),
      reason: requireString(values, 'reason').trim(),
      createdBy: operator(values),
    };
    const { checkHoldShape } = await import('../../db/queries/holds.ts');
    const shape = checkHoldShape(closure);
    if (shape) throw new UsageError(shape);
    // Reach Temporal before writing, so an unreachable server does not leave a closure nobody applies.
    const [db, client] = await Promise.all([ctx.db(), ctx.temporal()]);
    const { insertClosure } = await import('../../db/queries/closures.ts');
    const created = await insertClosure(db, closure);
    if (!created.ok) throw new UsageError(created.problem);
    const { launchClosure } = await import('../../client/closures.ts');
    const outcome = await launchClosure(
      { client, db, taskQueue: ctx.config.taskQueue },
      created.id,
      values.wait === true,
    );
    const head = `closure ${created.id}: studio closed ${closure.startsOn} to ${closure.endsOn} (${closure.reason})`;
    return {
      json: { closureId: created.id, ...closure, ...outcome },
      text: [
        head,
        outcome.passesExtended === undefined
          ? `  extending passes: workflow ${outcome.workflowId}`
          : `  extended ${outcome.passesExtended} pass${outcome.passesExtended === 1 ? '' : 'es'}`,
        `  bookings inside the closure: ptpass closures bookings ${created.id}`,
      ].join('\n'),
    };
  },
};

export const closuresListCommand: Command = {
  words: ['closures', 'list'],
  summary: 'Studio closures, newest first, with passes extended and bookings inside each.',
  options: { limit: { type: 'string', placeholder: 'N', description: 'How many (default 50)' } },
  async run({ values, positionals }, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const limit = positiveInt(optionalString(values, 'limit'), 'limit', 50, 1000);
    const { listClosures } = await import('../../db/queries/closures.ts');
    const rows = await listClosures(await ctx.db(), { limit, timeZone: ctx.config.businessTimeZone });
    const text = rows.length
      ? table(
          ['closure', 'from', 'to', 'reason', 'by', 'passes extended', 'bookings inside'],
          rows.map((r) => [
            r.id,
            r.startsOn,
            r.endsOn,
            r.reason,
            r.createdBy,
            r.passesExtended,
            r.bookingsInside,
          ]),
        )
      : 'no closures';
    return { json: rows, text };
  },
};

export const closuresBookingsCommand: Command = {
  words: ['closures', 'bookings'],
  args: '<closure-id>',
  summary: 'Bookings (not cancelled) whose class starts inside a closure: for the studio to cancel.',
  options: {},
  async run({ positionals }, ctx) {
    if (positionals.length !== 1)
      throw new UsageError('give one closure ID: ptpass closures bookings <closure-id>');
    const closureId = parseId(positionals[0], 'closure');
    const tz = ctx.config.businessTimeZone;
    const { bookingsInClosure } = await import('../../db/queries/closures.ts');
    const found = await bookingsInClosure(await ctx.db(), closureId, tz);
    if (!found) throw new UsageError(`closure ${closureId} does not exist`);
    const json = found.bookings.map((b) => ({ ...b, startedAt: b.startedAt.toISOString() }));
    const text = found.bookings.length
      ? table(
          ['booking', 'member', 'pass', 'status', `class starts (${tz})`],
          found.bookings.map((b) => [
            b.id,
            b.userId,
            b.passId ?? '',
            b.status,
            formatBusinessTime(b.startedAt, tz),
          ]),
        )
      : `no bookings inside closure ${closureId} (${found.closure.startsOn} to ${found.closure.endsOn})`;
    return { json, text };
  },
};

export const closuresCommands = [closuresAddCommand, closuresListCommand, closuresBookingsCommand];
