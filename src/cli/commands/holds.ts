import { userInfo } from 'node:os';
import { businessDayOf, formatBusinessTime, isBusinessDay } from '../../time.ts';
import { type Command, optionalString, positiveInt, requireString, table, UsageError } from '../command.ts';

/**
 * `ptpass holds add|end|list`: put a member's pass on hold (freeze) for business days, end a hold early,
 * list holds. The rules are in src/db/queries/holds.ts (README "Holds and studio closures"). The database
 * module is imported inside each command's run, so `--help` and bad input never load it.
 */

const ID = /^[1-9]\d{0,17}$/;

export function parseId(text: string | undefined, what: string): number {
  if (text === undefined || !ID.test(text.trim()))
    throw new UsageError(`${what} '${text ?? ''}' is not an ID (a whole number above 0)`);
  return Number(text.trim());
}

/** Who did it: --by, else the operating-system user running the command. */
export function operator(values: Record<string, unknown>): string {
  const by = optionalString(values, 'by');
  if (by !== undefined) return by.trim();
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

function day(values: Record<string, unknown>, name: string): string {
  const text = requireString(values, name).trim();
  if (!isBusinessDay(text)) throw new UsageError(`--${name} '${text}' is not a calendar day YYYY-MM-DD`);
  return text;
}

const endText = (endedAt: Date | null, timeZone: string) =>
  endedAt ? `${formatBusinessTime(endedAt, timeZone)} (${timeZone})` : 'no end';

export const holdsAddCommand: Command = {
  words: ['holds', 'add'],
  summary: 'Put a pass on hold (freeze) for business days: its end moves later by the held days.',
  details: [
    'Days are business days in BUSINESS_TIMEZONE, --from and --to inclusive. The end moves by the held days',
    '(the same wall-clock time N days on), less days a studio closure already extended the pass for. While on',
    'hold the pass cannot be booked. Refused: an EXPIRED pass, a range before the pass starts or after it ends,',
    'a range overlapping another hold of the pass, more than 366 days. A refused hold writes nothing (exit 2).',
  ].join('\n'),
  options: {
    pass: { type: 'string', placeholder: 'ID', description: 'The pass to hold (required)' },
    from: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'First held day (required)' },
    to: { type: 'string', placeholder: 'YYYY-MM-DD', description: 'Last held day, inclusive (required)' },
    reason: { type: 'string', placeholder: 'TEXT', description: 'Why (required; shown to staff)' },
    by: { type: 'string', placeholder: 'NAME', description: 'Who asked for it (default: this OS user)' },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const passId = parseId(requireString(values, 'pass'), '--pass');
    const hold = {
      passId,
      startsOn: day(values, 'from'),
      endsOn: day(values, 'to'),
      reason: requireString(values, 'reason').trim(),
      createdBy: operator(values),
    };
    const { addHold, checkHoldShape } = await import('../../db/queries/holds.ts');
    const shape = checkHoldShape(hold);
    if (shape) throw new UsageError(shape);
    const tz = ctx.config.businessTimeZone;
    const outcome = await addHold(await ctx.db(), hold, tz);
    if (!outcome.ok) throw new UsageError(outcome.problem);
    const h = outcome.hold;
    return {
      json: {
        ...h,
        previousEndedAt: outcome.previousEndedAt?.toISOString() ?? null,
        endedAt: outcome.endedAt?.toISOString() ?? null,
      },
      text: [
        `hold ${h.id}: pass ${h.passId} on hold ${h.startsOn} to ${h.endsOn} (${h.reason}; by ${h.createdBy})`,
        `  end moved by ${h.extendedDays} day${h.extendedDays === 1 ? '' : 's'}: ${endText(outcome.previousEndedAt, tz)} -> ${endText(outcome.endedAt, tz)}`,
      ].join('\n'),
    };
  },
};

export const holdsEndCommand: Command = {
  words: ['holds', 'end'],
  args: '<hold-id>',
  summary: 'End a hold early: the pass is usable again from --on (default today), its end moves back.',
  details: [
    "The end moves back by the days from --on to the hold's last day that the hold had added. --on on or before",
    'the first held day cancels the hold whole. Refused: a hold already ended, or a day after its last.',
  ].join('\n'),
  options: {
    on: {
      type: 'string',
      placeholder: 'YYYY-MM-DD',
      description: 'First day the pass is usable again (default: today in BUSINESS_TIMEZONE)',
    },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length !== 1) throw new UsageError('give one hold ID: ptpass holds end <hold-id>');
    const holdId = parseId(positionals[0], 'hold');
    const tz = ctx.config.businessTimeZone;
    const on = optionalString(values, 'on')?.trim() ?? businessDayOf(new Date(), tz);
    if (!isBusinessDay(on)) throw new UsageError(`--on '${on}' is not a calendar day YYYY-MM-DD`);
    const { endHold } = await import('../../db/queries/holds.ts');
    const outcome = await endHold(await ctx.db(), { holdId, on }, tz);
    if (!outcome.ok) throw new UsageError(outcome.problem);
    const h = outcome.hold;
    return {
      json: {
        ...h,
        previousEndedAt: outcome.previousEndedAt?.toISOString() ?? null,
        endedAt: outcome.endedAt?.toISOString() ?? null,
      },
      text: [
        `hold ${h.id}: ended; pass ${h.passId} is usable again from ${h.endedEarlyOn}`,
        `  end moved back: ${endText(outcome.previousEndedAt, tz)} -> ${endText(outcome.endedAt, tz)}`,
      ].join('\n'),
    };
  },
};

export const holdsListCommand: Command = {
  words: ['holds', 'list'],
  summary: 'Holds, newest first (of one pass with --pass).',
  options: {
    pass: { type: 'string', placeholder: 'ID', description: 'Only this pass' },
    limit: { type: 'string', placeholder: 'N', description: 'How many (default 50)' },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const passText = optionalString(values, 'pass');
    const passId = passText === undefined ? undefined : parseId(passText, '--pass');
    const limit = positiveInt(optionalString(values, 'limit'), 'limit', 50, 1000);
    const { listHolds } = await import('../../db/queries/holds.ts');
    const rows = await listHolds(await ctx.db(), { passId, limit });
    const tz = ctx.config.businessTimeZone;
    const json = rows.map((r) => ({ ...r, passEndedAt: r.passEndedAt?.toISOString() ?? null }));
    const text = rows.length
      ? table(
          ['hold', 'pass', 'member', 'from', 'to', 'ended early', 'days', 'reason', 'by', 'pass ends'],
          rows.map((r) => [
            r.id,
            r.passId,
            r.userId,
            r.startsOn,
            r.endsOn,
            r.endedEarlyOn ?? '',
            r.extendedDays,
            r.reason,
            r.createdBy,
            r.passEndedAt ? formatBusinessTime(r.passEndedAt, tz) : '',
          ]),
        )
      : 'no holds';
    return { json, text };
  },
};

export const holdsCommands = [holdsAddCommand, holdsEndCommand, holdsListCommand];
