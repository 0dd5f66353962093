import type { LaunchOutcome } from '../../client/launch-job.ts';
import { workflowUrl } from '../../config.ts';
import { JOB_NAMES, JOBS, type JobDefinition, type JobResult, type RunSettings } from '../../jobs/index.ts';
import { parseInstant } from '../../time.ts';
import {
  type Command,
  type CommandOutput,
  type OptionSpec,
  optionalString,
  table,
  UsageError,
} from '../command.ts';

/** Flags declared by job definitions (`options`), each with the jobs that accept it. */
const JOB_FLAGS = new Map<string, { spec: OptionSpec; jobs: string[] }>();
for (const job of Object.values(JOBS) as JobDefinition[]) {
  for (const [flag, option] of Object.entries(job.options ?? {})) {
    const known = JOB_FLAGS.get(flag);
    if (known) known.jobs.push(job.name);
    else JOB_FLAGS.set(flag, { spec: { type: 'string', ...option }, jobs: [job.name] });
  }
}

export const jobRunCommand: Command = {
  words: ['job', 'run'],
  args: '<job>',
  explainsMissingArgs: true,
  summary: 'Start a job instance (or report it), optionally waiting for its summary.',
  details: [
    `Jobs: ${JOB_NAMES.join(', ')}.`,
    'A job instance is the job plus its logical time (--as-of, whole seconds). Launching an instance that is',
    'running is refused; launching one that completed prints its recorded result unless --rerun is given.',
    'Launching one that failed or was stopped continues it where it stopped (see also `ptpass runs restart`).',
    'Times without an offset are read in BUSINESS_TIMEZONE.',
    'Job-specific flags (e.g. --day for statistics) set the parameter of the same name.',
  ].join('\n'),
  options: {
    'as-of': {
      type: 'string',
      placeholder: 'ISO',
      description: 'Logical time (default: the start of this minute)',
    },
    'dry-run': { type: 'boolean', description: 'Count what would change; write nothing' },
    rerun: { type: 'boolean', description: 'Run a completed instance again (safe: chunks are idempotent)' },
    wait: { type: 'boolean', description: 'Wait for the job and print its summary' },
    'chunk-size': {
      type: 'string',
      placeholder: 'N',
      description: 'Rows per chunk (one transaction) in every step',
      integer: { min: 1, max: 100_000 },
    },
    partitions: {
      type: 'string',
      placeholder: 'N',
      description: 'Key-range partitions run in parallel per step',
      integer: { min: 1, max: 64 },
    },
    'heartbeat-timeout': {
      type: 'string',
      placeholder: 'SECONDS',
      description: 'Retry a step elsewhere after this long without a heartbeat (default 60)',
      integer: { min: 1, max: 3600 },
    },
    'max-attempts': {
      type: 'string',
      placeholder: 'N',
      description: 'Attempts per step before the job fails (default 10)',
      integer: { min: 1, max: 100 },
    },
    param: {
      type: 'string',
      multiple: true,
      placeholder: 'KEY=VALUE',
      description: 'A job parameter (repeatable)',
    },
    ...Object.fromEntries([...JOB_FLAGS].map(([flag, { spec }]) => [flag, spec])),
  },
  async run({ values, positionals }, ctx) {
    const [name, ...extra] = positionals;
    if (!name) throw new UsageError(`which job? (jobs: ${JOB_NAMES.join(', ')})`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (!(name in JOBS)) throw new UsageError(`unknown job '${name}' (jobs: ${JOB_NAMES.join(', ')})`);
    const asOfText = optionalString(values, 'as-of');
    const asOf = asOfText === undefined ? undefined : parseInstant(asOfText, ctx.config.businessTimeZone);
    if (asOfText !== undefined && !asOf) {
      throw new UsageError(`--as-of '${asOfText}' is not an ISO-8601 time such as 2026-11-22T00:05:00+09:00`);
    }
    const params = { ...parseParams(values.param), ...jobFlagParams(name, values) };
    // Loaded here: launching needs the Temporal client, which other commands should not pay for.
    const {
      JobAlreadyRunningError,
      LaunchError,
      launchJob,
      MissingRowError,
      ParamsConflictError,
      prepareLaunch,
    } = await import('../../client/launch-job.ts');
    const { watchProgress } = await import('../../client/progress.ts');
    const request = {
      job: name,
      asOf,
      params,
      settings: runSettings(JOBS[name as keyof typeof JOBS] as JobDefinition, values),
      dryRun: values['dry-run'] === true,
      rerun: values.rerun === true,
      wait: values.wait === true,
    };
    // Validate before connecting anywhere: bad input starts nothing.
    try {
      prepareLaunch(request, new Date());
    } catch (err) {
      if (err instanceof LaunchError) throw new UsageError(err.message);
      throw err;
    }
    const [client, db] = await Promise.all([ctx.temporal(), ctx.db()]);
    // While waiting, the steps' heartbeats go to stderr as progress lines; stdout keeps the one result.
    const watching = new AbortController();
    const progress = request.wait
      ? watchProgress(client, prepareLaunch(request, new Date()).workflowId, ctx.progress, watching.signal)
      : undefined;
    let outcome: LaunchOutcome;
    try {
      outcome = await launchJob(
        { client, db, taskQueue: ctx.config.taskQueue },
        {
          ...request,
          onStarted: () => {
            if (request.wait) ctx.progress(`${name}: started, waiting for it to finish...`);
          },
        },
      );
    } catch (err) {
      if (err instanceof JobAlreadyRunningError)
        return { json: { outcome: 'already-running', error: err.message }, text: err.message, exitCode: 3 };
      if (err instanceof ParamsConflictError || err instanceof MissingRowError)
        throw new UsageError(err.message);
      throw err;
    } finally {
      watching.abort();
      await progress?.catch(() => undefined);
    }
    return describeOutcome(name, outcome, workflowUrl(ctx.config, outcome.workflowId, outcome.runId));
  },
};

/** --chunk-size, --partitions (every step), --heartbeat-timeout and --max-attempts as run settings. */
function runSettings(job: JobDefinition, values: Record<string, unknown>): RunSettings {
  const number = (flag: string) => (typeof values[flag] === 'string' ? Number(values[flag]) : undefined);
  const settings: RunSettings = {};
  const heartbeat = number('heartbeat-timeout');
  const attempts = number('max-attempts');
  if (heartbeat !== undefined) settings.heartbeatTimeoutSeconds = heartbeat;
  if (attempts !== undefined) settings.maxAttempts = attempts;
  const step = {
    ...(number('chunk-size') !== undefined ? { chunkSize: number('chunk-size') } : {}),
    ...(number('partitions') !== undefined ? { partitions: number('partitions') } : {}),
  };
  if (Object.keys(step).length) settings.steps = Object.fromEntries(job.steps.map((s) => [s.name, step]));
  return settings;
}

/** The job-declared flags given on the command line, as params; a flag of another job is refused. */
function jobFlagParams(job: string, values: Record<string, unknown>): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [flag, { jobs }] of JOB_FLAGS) {
    if (values[flag] === undefined) continue;
    if (!jobs.includes(job))
      throw new UsageError(`--${flag} is not an option of ${job} (only of ${jobs.join(', ')})`);
    const value = optionalString(values, flag);
    if (value !== undefined) params[flag] = value;
  }
  if (Array.isArray(values.param)) {
    for (const pair of values.param) {
      const key = String(pair).split('=')[0];
      if (key && key in params)
        throw new UsageError(`${key} is given twice (--${key} and --param ${key}=...)`);
    }
  }
  return params;
}

function parseParams(raw: unknown): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of Array.isArray(raw) ? raw : []) {
    const at = String(pair).indexOf('=');
    if (at <= 0) throw new UsageError(`--param '${pair}' must be KEY=VALUE`);
    const key = String(pair).slice(0, at);
    if (Object.hasOwn(params, key)) throw new UsageError(`--param ${key} is given twice`);
    const value = String(pair).slice(at + 1);
    params[key] = /^-?\d+(\.\d+)?$/.test(value)
      ? Number(value)
      : value === 'true'
        ? true
        : value === 'false'
          ? false
          : value;
  }
  return params;
}

export function describeOutcome(name: string, outcome: LaunchOutcome, url: string): CommandOutput {
  const head = {
    started: `${name} as of ${outcome.asOf}: started`,
    completed: `${name} as of ${outcome.asOf}: completed`,
    'already-completed': `${name} as of ${outcome.asOf}: already completed earlier; not run again (use --rerun to run it again)`,
  }[outcome.outcome];
  const lines = [head, `  workflow ${outcome.workflowId}  run ${outcome.runId}`];
  if ('result' in outcome) lines.push(summaryTable(outcome.result));
  lines.push(`  Web UI: ${url}`);
  return { json: { ...outcome, url }, text: lines.join('\n') };
}

export function summaryTable(result: JobResult): string {
  const rows = result.steps.map((s) => [s.step, s.read, s.written, s.skipped, s.chunks]);
  rows.push(['total', result.read, result.written, result.skipped, '']);
  const body = table(['step', 'read', 'written', 'skipped', 'chunks'], rows);
  return (result.dryRun ? '  (dry run: nothing was written)\n' : '') + body.replace(/^/gm, '  ');
}

export const jobsListCommand: Command = {
  words: ['job', 'list'],
  summary: 'List the jobs ptpass runs and their steps.',
  options: {},
  async run() {
    const jobs = Object.values(JOBS).map((job) => ({
      name: job.name,
      description: job.description,
      steps: job.steps.map((s) => ({
        name: s.name,
        chunkSize: s.chunkSize,
        partitions: s.partitions,
        skipLimit: s.skipLimit,
      })),
    }));
    return {
      json: jobs,
      text: table(
        ['job', 'steps', 'description'],
        jobs.map((j) => [j.name, j.steps.map((s) => s.name).join(' → '), j.description]),
      ),
    };
  },
};
