import { reconcileRuns } from '../../client/reconcile-runs.ts';
import { workflowUrl } from '../../config.ts';
import { getJobRun, listJobRuns } from '../../db/queries/runs.ts';
import { JOB_NAMES } from '../../jobs/index.ts';
import { type Command, optionalString, positiveInt, table, UsageError } from '../command.ts';

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
    const [client, db] = await Promise.all([ctx.temporal(), ctx.db()]);
    await reconcileRuns({ client, db });
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
    const text = runs.length
      ? table(
          ['run', 'job', 'as of', 'status', 'read', 'written', 'skipped', 'started'],
          json.map((r) => [
            r.runId,
            r.job + (r.dryRun ? ' (dry)' : ''),
            r.asOf,
            r.status,
            r.read,
            r.written,
            r.skipped,
            r.startedAt,
          ]),
        )
      : 'no runs yet';
    return { json, text };
  },
};

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
    const [client, db] = await Promise.all([ctx.temporal(), ctx.db()]);
    await reconcileRuns({ client, db });
    const found = await getJobRun(db, runId);
    if (!found) throw new UsageError(`no run ${runId} (see \`ptpass runs list\`)`);
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
    const lines = [
      `${run.job} as of ${json.asOf}${run.dryRun ? ' (dry run)' : ''}: ${run.status}`,
      `  run ${run.id}  workflow ${run.workflowId}`,
      `  started ${json.startedAt}${json.endedAt ? `, ended ${json.endedAt}` : ''}`,
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
