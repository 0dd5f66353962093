import { z } from 'zod';
import { ERROR_NAMES } from './errors.ts';

/**
 * What a job is, in terms both the workflow sandbox and the activities can import: its name, its
 * parameters, its steps and their defaults. No I/O and no Node built-ins here (lint-enforced).
 */

export interface StepDefaults {
  /** Rows per chunk transaction. */
  chunkSize: number;
  /** Key-range partitions run in parallel, each on its own connection. */
  partitions: number;
  /** Items a step may skip (bad data) before it fails. */
  skipLimit: number;
  /** Pause between chunks, to spare a busy database; 0 runs flat out. */
  pauseMs: number;
  /**
   * Rows per partition when a run picks its partition count (README "Scaling out"): below it, one more
   * partition costs more than it saves.
   */
  rowsPerPartition: number;
}

export interface StepDefinition extends StepDefaults {
  name: string;
  /**
   * For a step added to a job that already had runs: a patch ID (Temporal's `patched`). A run that began
   * before the step existed replays without it instead of failing on a history it cannot match.
   */
  since?: string;
}

/** A string flag of `ptpass job run <job>` that sets the job parameter of the same name. */
export interface JobOptionSpec {
  placeholder: string;
  description: string;
}

export interface JobDefinition<
  P extends z.ZodType = z.ZodType,
  W extends string = string,
  N extends string = string,
> {
  name: N;
  /**
   * The workflow function's exported name (the workflow type in Temporal); src/workflows/index.ts does not
   * compile unless it exports a workflow of this name.
   */
  workflowType: W;
  /** One line for `--help` and the schedule note. */
  description: string;
  params: P;
  steps: readonly StepDefinition[];
  /**
   * Part of the instance identity beyond job + as-of, derived from validated params (e.g. the days a
   * statistics run covers), so two launches with different params in the same minute are two instances.
   * Undefined keeps the plain ID, the one a schedule uses.
   */
  instanceKey?(params: z.output<P>): string | undefined;
  /** Flags `ptpass job run` accepts for this job; each sets the string parameter of the same name. */
  options?: Record<string, JobOptionSpec>;
}

export function defineJob<P extends z.ZodType, const W extends string, const N extends string>(
  job: JobDefinition<P, W, N>,
): JobDefinition<P, W, N> {
  return job;
}

/** Measured on the bench data set: see README "Performance". */
export const DEFAULT_CHUNK_SIZE = 2000;

/**
 * Rows of a set-based step below which one more partition costs more in set-up (an activity, a
 * connection, a step record: tens of milliseconds) than it saves (100,000 rows: one to two seconds).
 */
export const ROWS_PER_PARTITION = 100_000;

export function step(
  name: string,
  overrides: Partial<StepDefaults> & Pick<StepDefinition, 'since'> = {},
): StepDefinition {
  return {
    name,
    chunkSize: DEFAULT_CHUNK_SIZE,
    partitions: 1,
    skipLimit: 100,
    pauseMs: 0,
    rowsPerPartition: ROWS_PER_PARTITION,
    ...overrides,
  };
}

const isoInstant = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 instant such as 2026-11-22T00:05:00Z',
});

export const stepSettingsSchema = z
  .object({
    chunkSize: z.number().int().min(1).max(100_000).optional(),
    partitions: z.number().int().min(1).max(64).optional(),
    skipLimit: z.number().int().min(0).optional(),
    pauseMs: z.number().int().min(0).max(10_000).optional(),
  })
  .strict();

export const runSettingsSchema = z
  .object({
    /** How long a step may go without a heartbeat before Temporal retries it elsewhere. */
    heartbeatTimeoutSeconds: z.number().int().min(1).max(3600).optional(),
    /** Attempts per step before the job fails. */
    maxAttempts: z.number().int().min(1).max(100).optional(),
    steps: z.record(z.string(), stepSettingsSchema).optional(),
  })
  .strict();

export type RunSettings = z.infer<typeof runSettingsSchema>;

/** The workflow argument of every job. IDs, times and counts only: it is visible in the Web UI. */
export const jobInputSchema = z
  .object({
    /** The logical time; absent on scheduled runs, which use the schedule's nominal time. */
    asOf: isoInstant.optional(),
    dryRun: z.boolean().default(false),
    params: z.record(z.string(), z.unknown()).default({}),
    settings: runSettingsSchema.default({}),
  })
  .strict();

export type JobInput = z.input<typeof jobInputSchema>;
export type ParsedJobInput = z.output<typeof jobInputSchema>;

export interface StepSummary {
  step: string;
  partitions: number;
  read: number;
  written: number;
  skipped: number;
  chunks: number;
}

export interface JobResult {
  jobRunId: string;
  workflowId: string;
  job: string;
  asOf: string;
  dryRun: boolean;
  read: number;
  written: number;
  skipped: number;
  steps: StepSummary[];
}

/** Drops sub-second precision: the instance identity of a job is its name and the second it is "as of". */
export function normaliseAsOf(instant: Date): Date {
  return new Date(Math.floor(instant.getTime() / 1000) * 1000);
}

/** ISO-8601 without milliseconds, the format Temporal Schedules append to a scheduled workflow ID. */
export function formatInstant(instant: Date): string {
  return normaliseAsOf(instant).toISOString().replace('.000Z', 'Z');
}

/**
 * The workflow ID of a job instance. It matches the ID a Temporal Schedule gives the run it starts at the
 * same nominal time (`<schedule action workflow ID>-<RFC 3339 time>`), so a manual run and a scheduled run
 * for the same instant are the same instance.
 */
export function jobWorkflowId(job: string, asOf: Date): string {
  return `${job}-${formatInstant(asOf)}`;
}

export class InvalidParametersError extends Error {
  override name = ERROR_NAMES.invalidParameters;
}

/** The workflow signal `ptpass runs stop` sends: stop after the current chunk, record the run STOPPED. */
export const STOP_SIGNAL = 'ptpass.stop';

/** Validates a job's input and parameters; the message names each bad field. */
export function parseJobInput<P extends z.ZodType>(
  job: JobDefinition<P>,
  raw: unknown,
): Omit<ParsedJobInput, 'params'> & { params: z.output<P> } {
  const input = jobInputSchema.safeParse(raw ?? {});
  if (!input.success) throw new InvalidParametersError(`${job.name}: ${describeIssues(input.error)}`);
  const params = job.params.safeParse(input.data.params);
  if (!params.success)
    throw new InvalidParametersError(`${job.name}: ${describeIssues(params.error, 'params')}`);
  const stepNames = new Set(job.steps.map((s) => s.name));
  for (const name of Object.keys(input.data.settings.steps ?? {})) {
    if (!stepNames.has(name)) {
      throw new InvalidParametersError(
        `${job.name}: settings.steps.${name}: no such step (steps: ${[...stepNames].join(', ')})`,
      );
    }
  }
  return { ...input.data, params: params.data };
}

export function describeIssues(error: z.ZodError, prefix?: string): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

export function resolveStep(stepDef: StepDefinition, settings: RunSettings): StepDefinition {
  const override = settings.steps?.[stepDef.name] ?? {};
  return {
    name: stepDef.name,
    chunkSize: override.chunkSize ?? stepDef.chunkSize,
    partitions: override.partitions ?? stepDef.partitions,
    skipLimit: override.skipLimit ?? stepDef.skipLimit,
    pauseMs: override.pauseMs ?? stepDef.pauseMs,
    rowsPerPartition: stepDef.rowsPerPartition,
  };
}
