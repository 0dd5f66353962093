import { reconcileRuns } from '../../client/reconcile-runs.ts';
import type { restartRun } from '../../client/restart-run.ts';
import { workflowUrl } from '../../config.ts';
import { getJobRun, listJobRuns } from '../../db/queries/runs.ts';
import { JOB_NAMES } from '../../jobs/index.ts';
import { formatBusinessTime } from '../../time.ts';
import {
  type Command,
  type CommandOutput,
  optionalString,
  positiveInt,
  table,
  UsageError,
} from '../command.ts';
import { summaryTable } from './job.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const runsListCommand: Command = {
  words: ['runs', 'list'],
  summary: 'Recent job runs with their counts, newest first.',
  options: {
    job: { type: 'string', placeholder: 'NAME', description: 'Only runs of this job', choices: JOB_NAMES },
    limit: { type: 'string', placeholder: 'N', description: 'How many runs (default 20)' },
  },
  async run({ values }, ctx) {
    const limit = positiveInt(optionalString(values, 'limit'), 'limit', 20, 1000);
    const job = optionalString(values, 'job');
    const db = await ctx.db();
    await reconcileRuns({ client: () => ctx.temporal(), db });
    const runs = await listJobRuns(db, { job, limit });
    const json = runs.map((r) => ({
      runId: r.id,
      workflowId: r.workflowId,
      job: r.job,
      asOf: r.asOf.toISOString(),
      dryRun: r.dryRun,
      status: r.status,
      read: r.readCount,
      written: r.writeCount,
      skipped: r.skipCount,
      startedAt: r.startedAt.toISOString(),
      endedAt: r.endedAt?.toISOString() ?? null,
      error: r.error,
    }));
    const tz = ctx.config.businessTimeZone;
    const text = runs.length
      ? table(
          ['run', 'job', `as of (${tz})`, 'status', 'read', 'written', 'skipped', `started (${tz})`],
          runs.map((r) => [
            r.id,
            r.job + (r.dryRun ? ' (dry)' : ''),
            formatBusinessTime(r.asOf, tz),
            r.status,
            r.readCount,
            r.writeCount,
            r.skipCount,
            formatBusinessTime(r.startedAt, tz),
          ]),
        )
      : 'no runs yet';
    return { json, text };
  },
};

const unknownRun = (runId: string) => new UsageError(`no run ${runId} (see \`ptpass runs list\`)`);

function runIdArgument(positionals: string[]): string {
  const [runId, extra] = positionals;
  if (!runId) throw new UsageError('which run? (a run ID from `ptpass runs list`)');
  if (extra) throw new UsageError(`unexpected argument '${extra}'`);
  if (!UUID_RE.test(runId))
    throw new UsageError(`'${runId}' is not a run ID (a UUID from \`ptpass runs list\`)`);
  return runId;
}

export const runsRestartCommand: Command = {
  words: ['runs', 'restart'],
  args: '<run-id>',
  summary: 'Restart a failed or stopped run: it continues where it stopped.',
  details: [
    'Starts the same job instance again with the same input. Steps the run completed are not run again;',
    'the step it stopped in resumes after its last committed chunk (each partition from its own checkpoint).',
    'A completed run is not restarted: use `ptpass job run <job> --as-of <T> --rerun`.',
  ].join('\n'),
  options: {
    wait: { type: 'boolean', description: 'Wait for the restarted run and print its summary' },
  },
  async run({ values, positionals }, ctx) {
    const runId = runIdArgument(positionals);
    const db = await ctx.db();
    // Temporal is reached only when a record says RUNNING, or the run is there to restart.
    const client = () => ctx.temporal();
    await reconcileRuns({ client, db });
    // Loaded here: restarting needs the Temporal SDK, which `runs list` should not pay for.
    const { restartRun } = await import('../../client/restart-run.ts');
    let outcome: Awaited<ReturnType<typeof restartRun>>;
    try {
      outcome = await restartRun({ client, db, taskQueue: ctx.config.taskQueue }, runId, {
        wait: values.wait === true,
        onStarted: () => {
          if (values.wait) ctx.progress(`restarting run ${runId}, waiting for it to finish...`);
        },
      });
    } catch (err) {
      return runControlRefusal(runId, err);
    }
    const url = workflowUrl(ctx.config, outcome.workflowId, outcome.runId);
    const lines = [
      `run ${runId} restarted as run ${outcome.runId}: ${outcome.outcome}`,
      `  workflow ${outcome.workflowId}`,
    ];
    if ('result' in outcome && outcome.result) lines.push(summaryTable(outcome.result));
    if ('error' in outcome && outcome.error) lines.push(`  error: ${outcome.error}`);
    lines.push(`  Web UI: ${url}`);
    return {
      json: { ...outcome, url },
      text: lines.join('\n'),
      exitCode: outcome.outcome === 'failed' || outcome.outcome === 'stopped' ? 1 : 0,
    };
  },
};

export const runsStopCommand: Command = {
  words: ['runs', 'stop'],
  args: '<run-id>',
  summary: 'Stop a running run after its current chunk; it is recorded STOPPED and can be restarted.',
  options: {},
  async run({ positionals }, ctx) {
    const runId = runIdArgument(positionals);
    const db = await ctx.db();
    const { stopRun } = await import('../../client/restart-run.ts');
    let stopped: Awaited<ReturnType<typeof stopRun>>;
    try {
      stopped = await stopRun({ client: () => ctx.temporal(), db }, runId, {
        onSignalled: () => ctx.progress(`stopping run ${runId} after its current chunk...`),
      });
    } catch (err) {
      return runControlRefusal(runId, err);
    }
    return {
      json: { runId, ...stopped },
      // Its last chunk was committed before the stop arrived: there is nothing left to restart.
      text:
        stopped.status === 'COMPLETED'
          ? `run ${runId}: COMPLETED before the stop took effect`
          : `run ${runId}: ${stopped.status}; restart it with \`ptpass runs restart ${runId}\``,
    };
  },
};

/**
 * Why a restart or stop was refused: an unknown run is bad input (one line, exit 2, as `runs show`); a run
 * in the wrong state (completed, still running, not running) is printed with exit 3.
 */
async function runControlRefusal(runId: string, err: unknown): Promise<CommandOutput> {
  const { UnknownRunError } = await import('../../client/restart-run.ts');
  const { LaunchError } = await import('../../client/launch-job.ts');
  if (err instanceof UnknownRunError) throw unknownRun(runId);
  if (err instanceof LaunchError)
    return { json: { outcome: 'refused', error: err.message }, text: err.message, exitCode: 3 };
  throw err;
}

export const runsShowCommand: Command = {
  words: ['runs', 'show'],
  args: '<run-id>',
  summary: 'One run: its steps, counts, skipped items with reasons, error, and its Web UI link.',
  options: {},
  async run({ positionals }, ctx) {
    const [runId] = positionals;
    if (!runId) throw new UsageError('which run? (a run ID from `ptpass runs list`)');
    if (!UUID_RE.test(runId))
      throw new UsageError(`'${runId}' is not a run ID (a UUID from \`ptpass runs list\`)`);
    const db = await ctx.db();
    await reconcileRuns({ client: () => ctx.temporal(), db });
    const found = await getJobRun(db, runId);
    if (!found) throw unknownRun(runId);
    const { run, steps, skips } = found;
    const url = workflowUrl(ctx.config, run.workflowId, run.id);
    const json = {
      runId: run.id,
      workflowId: run.workflowId,
      job: run.job,
      asOf: run.asOf.toISOString(),
      dryRun: run.dryRun,
      status: run.status,
      read: run.readCount,
      written: run.writeCount,
      skipped: run.skipCount,
      startedAt: run.startedAt.toISOString(),
      endedAt: run.endedAt?.toISOString() ?? null,
      error: run.error,
      params: run.params,
      settings: run.settings,
      steps: steps.map((s) => ({
        step: s.step,
        partition: s.partition,
        status: s.status,
        read: s.readCount,
        written: s.writeCount,
        skipped: s.skipCount,
        chunks: s.chunks,
        attempt: s.attempt,
        checkpoint: s.checkpoint,
        error: s.error,
      })),
      skips,
      url,
    };
    const tz = ctx.config.businessTimeZone;
    const lines = [
      `${run.job} as of ${formatBusinessTime(run.asOf, tz)} (${tz})${run.dryRun ? ' (dry run)' : ''}: ${run.status}`,
      `  run ${run.id}  workflow ${run.workflowId}`,
      `  started ${formatBusinessTime(run.startedAt, tz)}${run.endedAt ? `, ended ${formatBusinessTime(run.endedAt, tz)}` : ''} (${tz})`,
      ...(Object.keys(run.params).length ? [`  params ${JSON.stringify(run.params)}`] : []),
      ...(Object.keys(run.settings).length ? [`  settings ${JSON.stringify(run.settings)}`] : []),
      table(
        ['step', 'part', 'status', 'read', 'written', 'skipped', 'chunks', 'attempt', 'checkpoint'],
        json.steps.map((s) => [
          s.step,
          s.partition,
          s.status,
          s.read,
          s.written,
          s.skipped,
          s.chunks,
          s.attempt,
          s.checkpoint,
        ]),
      ).replace(/^/gm, '  '),
    ];
    if (run.error) lines.push(`  error: ${run.error}`);
    if (skips.length) {
      lines.push('  skipped items:');
      lines.push(
        table(
          ['step', 'key', 'reason'],
          skips.map((s) => [s.step, s.key, s.reason]),
        ).replace(/^/gm, '    '),
      );
    }
    lines.push(`  Web UI: ${url}`);
    return { json, text: lines.join('\n') };
  },
};
