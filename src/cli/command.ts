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
  multiple?: boolean;
}

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
  /** Positional arguments, e.g. '<job>'. */
  args?: string;
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
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return {
      values: parsed.values as Record<string, string | boolean | string[] | undefined>,
      positionals: parsed.positionals,
    };
  } catch (err) {
    throw new UsageError(err instanceof Error ? cleanParseError(err.message) : String(err));
  }
}

function cleanParseError(message: string): string {
  // node:util says "Unknown option '--x'. To specify a positional argument starting with a '-', ..."
  return message.split('. To specify')[0]!.replace(/\.$/, '');
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
