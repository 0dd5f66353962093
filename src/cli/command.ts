import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';

/**
 * The small command framework behind `ptpass`. A command declares its words, options and help text;
 * the runner parses strictly, prints `--help`, prints JSON with `--json`, and turns a bad input into one
 * line naming the problem with exit code 2.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help, e.g. `--as-of ISO  Logical time (default: this minute)`. */
  placeholder?: string;
  description: string;
  /** Repeatable (`--param A=1 --param B=2`); any other option given twice is refused. */
  multiple?: boolean;
  /** A whole-number option: refused before the command runs unless it is within these bounds. */
  integer?: { min: number; max: number };
  /** Longest accepted value of a string option (default DEFAULT_MAX_LENGTH). */
  maxLength?: number;
  /** The only values a string option accepts (e.g. job names); anything else is refused with the list. */
  choices?: readonly string[];
}

/** Longest string option value accepted unless the option says otherwise: notes and names, not documents. */
export const DEFAULT_MAX_LENGTH = 4096;

export interface CommandOutput {
  /** What `--json` prints. */
  json: unknown;
  /** What a person sees. */
  text: string;
  /** Non-zero to signal failure after printing (e.g. a job that failed). */
  exitCode?: number;
}

export interface CliContext {
  config: Config;
  temporal(): Promise<Client>;
  db(): Promise<Db>;
  /** Where progress lines go (stderr), so stdout stays clean for --json and CSV. */
  progress(line: string): void;
  stdout(text: string): void;
}

export interface Command {
  /** The words after `ptpass`, e.g. ['job', 'run']. */
  words: string[];
  summary: string;
  /**
   * Positional arguments, e.g. '<job>' (required), '[<id>]' (optional), '[<id>...]' (any number). The runner
   * refuses a missing required argument and any argument beyond these before the command runs.
   */
  args?: string;
  /** The command's run() names a missing required argument itself, with more help than the runner could. */
  explainsMissingArgs?: boolean;
  options: Record<string, OptionSpec>;
  /** Extra paragraphs for --help. */
  details?: string;
  run(
    input: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] },
    ctx: CliContext,
  ): Promise<CommandOutput | undefined>;
}

/** Bad input: printed as one line, exit code 2, nothing done. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function commandUsage(command: Command): string {
  const words = ['ptpass', ...command.words, command.args].filter(Boolean).join(' ');
  const lines = [`Usage: ${words} [options]`, '', command.summary];
  if (command.details) lines.push('', command.details);
  lines.push('', 'Options:');
  const all: Record<string, OptionSpec> = {
    ...command.options,
    json: { type: 'boolean', description: 'Print the result as JSON' },
    help: { type: 'boolean', short: 'h', description: 'Show this help' },
  };
  const rows = Object.entries(all).map(([name, spec]) => [
    `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.placeholder ? ` ${spec.placeholder}` : ''}`,
    spec.description,
  ]);
  const width = Math.max(...rows.map(([left]) => left!.length));
  for (const [left, right] of rows) lines.push(`  ${left!.padEnd(width)}  ${right}`);
  return lines.join('\n');
}

export function parseCommandArgs(command: Command, argv: string[]) {
  const options: NonNullable<ParseArgsConfig['options']> = {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(command.options)) {
    options[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? cleanParseError(err.message) : String(err));
  }
  checkRepeats(command, parsed.tokens ?? []);
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  for (const [name, spec] of Object.entries(command.options)) checkOption(name, spec, values[name]);
  checkPositionals(command, parsed.positionals);
  return { values, positionals: parsed.positionals };
}

/**
 * `--count -5` is a value, not an option: node:util would call it ambiguous in three lines. Join a
 * negative-number token to the string option before it (`--count=-5`) so the option's own check names it.
 */
function joinNegativeValues(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const next = argv[i + 1];
    const name = token.startsWith('--')
      ? token.slice(2)
      : Object.keys(options).find((n) => token === `-${options[n]!.short}`);
    if (name && !token.includes('=') && options[name]?.type === 'string' && next && /^-\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(token);
  }
  return out;
}

/**
 * A flag given twice would take its last value without a word (`grant --package 1 --package 2` granted
 * package 2): refused unless the option is declared `multiple` (`--param`).
 */
function checkRepeats(command: Command, tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>): void {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || command.options[token.name]?.multiple) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given twice`);
    seen.add(token.name);
  }
}

/** The arity declared by `args`: each `<x>` is required, `[<x>]` optional, `...` takes any number. */
export function positionalArity(args: string | undefined): { min: number; max: number; names: string[] } {
  const parts = args?.match(/\[[^\]]*\]|<[^>]*>(\.\.\.)?/g) ?? [];
  const names = parts.map((p) => p.replace(/^\[|\]$/g, '').replace(/\.\.\.$/, ''));
  return {
    min: parts.filter((p) => !p.startsWith('[')).length,
    max: parts.some((p) => p.includes('...')) ? Number.POSITIVE_INFINITY : parts.length,
    names,
  };
}

function checkPositionals(command: Command, positionals: string[]): void {
  const { min, max, names } = positionalArity(command.args);
  if (positionals.length > max) {
    const extra = positionals[max]!;
    throw new UsageError(
      max === 0
        ? `unexpected argument '${extra}' (this command takes none; options start with --)`
        : `unexpected argument '${extra}' (this command takes ${names.join(' ')})`,
    );
  }
  // A command that can say more than "<x> is required" (e.g. list the jobs) checks for a missing one itself.
  if (positionals.length < min && !command.explainsMissingArgs)
    throw new UsageError(`${names[positionals.length]} is required`);
}

function checkOption(name: string, spec: OptionSpec, value: string | boolean | string[] | undefined): void {
  if (value === undefined || typeof value === 'boolean') return;
  for (const one of Array.isArray(value) ? value : [value]) {
    const maxLength = spec.maxLength ?? DEFAULT_MAX_LENGTH;
    if (one.length > maxLength)
      throw new UsageError(`--${name} is too long (${one.length} characters; at most ${maxLength})`);
    if (spec.choices && !spec.choices.includes(one)) {
      const close = closest(one, spec.choices);
      throw new UsageError(
        `--${name} '${one}' is not one of ${spec.choices.join(', ')}${close ? ` (did you mean '${close}'?)` : ''}`,
      );
    }
    if (spec.integer) {
      const { min, max } = spec.integer;
      const n = Number(one.trim());
      if (!/^-?\d+$/.test(one.trim()) || n < min || n > max)
        throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got '${one}')`);
    }
  }
}

function cleanParseError(message: string): string {
  // node:util says "Unknown option '--x'. To specify a positional argument starting with a '-', ..."
  return message.split('. To specify')[0]!.replace(/\.$/, '');
}

/** The candidate nearest to a mistyped word (edit distance at most a third of its length), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  return best && best.distance <= Math.max(1, Math.floor(best.candidate.length / 3))
    ? best.candidate
    : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** A required string option, or a UsageError naming it. */
export function requireString(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function optionalString(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} needs a value`);
  return value;
}

export function positiveInt(
  text: string | undefined,
  name: string,
  fallback: number,
  max = 1_000_000,
): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`--${name} must be a whole number from 1 to ${max} (got '${text}')`);
  }
  return Number(text);
}

/** Left-aligned text table for terminal output. */
export function table(header: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
