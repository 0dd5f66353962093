/**
 * `npm run bench [-- --scale 0.1] [--jobs pass-lifecycle] [--partitions 2] [--reference-cap 20000]
 *                [--sweep-chunks 500,1000,2000,5000] [--sections jobs,cli] [--workers 2] [--growth]`
 *
 * For each job, on the local PostgreSQL and a real Temporal dev server with a real worker process,
 * three arms on the same seeded data: limit (fewest set-based statements, no Temporal), ptpass (the job
 * through Temporal as in production), reference (cursor + one UPDATE per item + commit every 5, capped at
 * a sample and extrapolated). Checks the arms produced the same rows, then prints the ratios.
 * The `cli` section then times the compiled `ptpass` (--help, runs list, stats show) against `node -e 0` on
 * the bench database (bench/cli.ts). Figures also go to bench-results/<time>.json.
 * For a job that runs in partitions, the ptpass arm runs again with `--workers` worker processes (default 2;
 * 1 skips it) on the same task queue, and prints both runs with the partitions each process ran.
 * `--growth` runs pass-lifecycle and deduct-sessions at 0.1×, 1× and 5× the scale, each size and job in a
 * bench process of its own (a fresh worker, so its peak RSS is that run's), and prints seconds per million
 * rows, worker peak RSS and history events per size.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { splitKeyRange } from '../src/activities/step-runner.ts';
import { launchJob } from '../src/client/launch-job.ts';
import { createDb, migrateDatabase } from '../src/db/client.ts';
import { devServerExecutable, ensureTemporalCli } from '../src/stack/temporal-cli.ts';
import { PTPASS_SEARCH_ATTRIBUTES } from '../src/workflows/search-attributes.ts';
import { benchCli, type CliFigure, printCliFigures } from './cli.ts';
import { BENCH_JOBS, type BenchJob } from './jobs.ts';
import {
  adminSql,
  type BenchWorker,
  fmt,
  formatTable,
  ROOT,
  startWorkerProcess,
  stepsByWorker,
  timed,
  timeline,
} from './support.ts';

/** A bad flag: one line naming it, exit 2, before anything is created. */
function refuse(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        scale: { type: 'string', default: '1' },
        jobs: { type: 'string' },
        partitions: { type: 'string', default: '2' },
        'reference-cap': { type: 'string', default: '20000' },
        'sweep-chunks': { type: 'string' },
        sections: { type: 'string', default: 'jobs,cli' },
        workers: { type: 'string', default: '2' },
        growth: { type: 'boolean', default: false },
        timeline: { type: 'boolean', default: false },
        repeat: { type: 'string', default: '1' },
        'idle-run': { type: 'boolean', default: false },
        out: { type: 'string' },
        'admin-url': {
          type: 'string',
          default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
        },
      },
    });
  } catch (err) {
    // node's message goes on to explain positional arguments: its first sentence names the flag.
    return refuse((err instanceof Error ? err.message : String(err)).split(/\.(\s|$)/)[0]!);
  }
})();
/** A flag that must be a whole number of at least `min`. */
const wholeNumber = (flag: string, text: string, min: number) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) refuse(`${flag} must be a whole number >= ${min} (got '${text}')`);
  return n;
};
const scale = Number(values.scale);
if (!(scale > 0)) refuse(`--scale must be a number > 0 (got '${values.scale}')`);
const partitions = wholeNumber('--partitions', values.partitions!, 1);
const referenceCap = wholeNumber('--reference-cap', values['reference-cap']!, 0);
if (referenceCap > 0 && referenceCap < 5)
  refuse(`--reference-cap must be 0 (skip) or >= 5 (got '${referenceCap}')`);
const workerCount = wholeNumber('--workers', values.workers!, 1);
const repeat = wholeNumber('--repeat', values.repeat!, 1);
const sweepChunks = values['sweep-chunks']?.split(',').map((size) => wholeNumber('--sweep-chunks', size, 1));
const sections = values.sections!.split(',');
if (sections.some((s) => s !== 'jobs' && s !== 'cli')) refuse("--sections is a list of 'jobs' and 'cli'");
/** What `--growth` runs at each size. */
const GROWTH_JOBS = ['pass-lifecycle', 'deduct-sessions'];
const askedJobs = values.jobs?.split(',');
const unknownJob = askedJobs?.find((name) => !BENCH_JOBS.some((j) => j.job === name));
if (unknownJob !== undefined)
  refuse(`--jobs: no benchmark for '${unknownJob}' (${BENCH_JOBS.map((j) => j.job).join(', ')})`);
if (values.growth && askedJobs && !askedJobs.some((name) => GROWTH_JOBS.includes(name)))
  refuse(`--growth runs ${GROWTH_JOBS.join(' and ')}: --jobs names neither`);
const selected = !sections.includes('jobs')
  ? []
  : askedJobs
    ? BENCH_JOBS.filter((j) => askedJobs.includes(j.job))
    : BENCH_JOBS;
let cliFigures: CliFigure[] = [];

const adminUrl = values['admin-url']!;
// Its own database per run, so two bench runs on one server never drop each other's data.
const dbName = `ptpass_bench_${process.pid}`;
const benchUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

async function empty(sql: ReturnType<typeof adminSql>, job: BenchJob) {
  await sql.unsafe(`TRUNCATE job_runs, ${job.tables.join(', ')} RESTART IDENTITY CASCADE`);
}

async function restore(sql: ReturnType<typeof adminSql>, job: BenchJob) {
  await empty(sql, job);
  for (const table of [...job.tables].reverse()) {
    await sql.unsafe(`INSERT INTO ${table} OVERRIDING SYSTEM VALUE SELECT * FROM bench_snapshot_${table}`);
    // Rows an arm inserts (passes, statistics) get ids after the restored ones, as after the seed.
    const [identity] = await sql`
      SELECT 1 FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = ${table} AND column_name = 'id' AND is_identity = 'YES'`;
    if (identity)
      await sql.unsafe(
        `SELECT setval(pg_get_serial_sequence('${table}', 'id'), max(id)) FROM ${table} HAVING max(id) IS NOT NULL`,
      );
  }
  await sql.unsafe('VACUUM ANALYZE');
  // Every arm starts with the restore's dirty pages on disk: otherwise the checkpointer writes them out
  // during whichever arm comes next, and that arm pays for the restore.
  await sql.unsafe('CHECKPOINT');
  await job.beforeArm?.();
}

/**
 * Has the worker process `pid` run one workflow before anything is measured, as a long-running production
 * worker has: a fresh worker's first workflow task costs ~0.2 s more (its workflow code warming up), which
 * is start-up cost, not a run's. A dry run of `prune-run-records` reads a few rows and writes nothing; with
 * several workers on the queue it is repeated until `pid` has taken one of its workflow tasks.
 */
async function warmUp(client: Client, taskQueue: string, db: ReturnType<typeof createDb>['db'], pid: number) {
  for (let i = 0; i < 12; i++) {
    const run = await launchJob(
      { client, db, taskQueue },
      { job: 'prune-run-records', asOf: new Date(Date.UTC(2000, 0, 1) + i * 1000), dryRun: true, wait: true },
    );
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const identities = (history.events ?? []).map((e) => e.workflowTaskStartedEventAttributes?.identity);
    if (identities.some((id) => id?.startsWith(`${pid}@`))) return;
  }
  console.log(
    `bench: worker ${pid} took no warm-up workflow task in 12 runs; its first measured run pays it`,
  );
}

/**
 * The reference arm over a sample of `--reference-cap` items, extrapolated to all `items`, and whether its
 * rows equal the limit arm's over the same items (keys <= the sample's last).
 */
async function referenceArm(sql: ReturnType<typeof adminSql>, job: BenchJob, asOf: Date, items: number) {
  await restore(sql, job);
  const run = await timed(() => job.reference(benchUrl, asOf, referenceCap));
  const print = await job.fingerprint(sql, run.value.lastKey);
  const note = job.afterArm ? await job.afterArm(sql, 'reference', run.seconds) : undefined;
  await restore(sql, job);
  await job.limit(sql, asOf, { url: benchUrl, upTo: run.value.lastKey });
  const limitSamplePrint = await job.fingerprint(sql, run.value.lastKey);
  return {
    seconds: (run.seconds * items) / Math.max(1, run.value.processed),
    sampleSeconds: run.seconds,
    processed: run.value.processed,
    same: print === limitSamplePrint,
    note,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main() {
  const admin = adminSql(adminUrl);
  await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${dbName}`);
  await admin.end();
  await migrateDatabase({ url: benchUrl });
  const sql = adminSql(benchUrl);

  const cli = await ensureTemporalCli();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: devServerExecutable(cli),
      ip: '127.0.0.1',
      extraArgs: ['--log-level', 'error'],
      searchAttributes: [...PTPASS_SEARCH_ATTRIBUTES],
    },
  });
  const address = env.connection.options.address!;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const { db, close } = createDb({ url: benchUrl, max: 2 });
  const taskQueue = 'bench';
  // What the selected jobs need besides the database (a webhook receiver), before the worker that uses it.
  const services: Awaited<ReturnType<NonNullable<BenchJob['start']>>>[] = [];
  for (const job of selected) if (job.start) services.push(await job.start());
  const workerEnv: Record<string, string> = {
    DATABASE_URL: benchUrl,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...Object.assign({}, ...services.map((s) => s.workerEnv)),
  };
  const worker = await startWorkerProcess(workerEnv).catch(async (err: unknown) => {
    for (const service of services) await service.stop();
    throw err;
  });
  const results: Record<string, unknown>[] = [];
  await warmUp(client, taskQueue, db, worker.pid);
  console.log(
    `bench: scale ${scale}, partitions ${partitions}, reference sample ${referenceCap} items, worker pid ${worker.pid}${services.map((s) => `, ${s.note}`).join('')}\n`,
  );

  try {
    for (const job of selected) {
      const asOf = new Date(Date.UTC(2026, 5, 1, 0, 5, 0) + results.length * 3600_000);
      // Each job starts from its own seed alone: an earlier job's rows must not count in this one's arms.
      await empty(sql, job);
      const { items } = await job.seed(sql, scale, asOf);
      const unit = job.unit ?? 'items';
      for (const table of job.tables) {
        await sql.unsafe(`DROP TABLE IF EXISTS bench_snapshot_${table}`);
        await sql.unsafe(`CREATE TABLE bench_snapshot_${table} AS SELECT * FROM ${table}`);
      }

      // limit
      const notes: string[] = [];
      const runLimit = async () => {
        await restore(sql, job);
        const run = await timed(() => job.limit(sql, asOf, { url: benchUrl }));
        if (job.afterArm) notes.push(await job.afterArm(sql, 'limit', run.seconds));
        return run;
      };
      const limitRuns = [await runLimit()];
      const limitPrint = await job.fingerprint(sql);

      // limit-parallel: the limit's statements over ptpass's key ranges, one session per partition.
      const runLimitParallel = async (lp: NonNullable<BenchJob['limitParallel']>) => {
        await restore(sql, job);
        const ranges = splitKeyRange(await lp.keyRange(sql), partitions);
        const sessions = ranges.map(() => adminSql(benchUrl));
        try {
          await Promise.all(sessions.map((s) => s`SELECT 1`));
          const run = await timed(async () => {
            await Promise.all(ranges.map((range, i) => lp.range(sessions[i]!, asOf, range)));
            await lp.finish?.(sql, asOf);
          });
          return {
            seconds: run.seconds,
            same: (await job.fingerprint(sql)) === limitPrint,
            ranges: ranges.length,
          };
        } finally {
          await Promise.all(sessions.map((s) => s.end()));
        }
      };

      // ptpass
      const params = job.params?.(asOf);
      const runPtpass = async (settings: ReturnType<BenchJob['settings']>, at: Date) => {
        await restore(sql, job);
        const launchedAt = Date.now();
        const run = await timed(() =>
          launchJob(
            { client, db, taskQueue },
            { job: job.job, asOf: at, params, settings, wait: true, rerun: true },
          ),
        );
        if (run.value.outcome !== 'completed') throw new Error(`ptpass arm: ${run.value.outcome}`);
        const sawResultAt = Date.now();
        const history = await client.workflow.getHandle(run.value.workflowId, run.value.runId).fetchHistory();
        if (values.timeline) {
          console.log(
            `  timeline (ms from launch): ${timeline(history.events ?? [], launchedAt, sawResultAt)}`,
          );
        }
        return {
          seconds: run.seconds,
          result: run.value.result,
          events: history.events?.length ?? 0,
          stepsByWorker: stepsByWorker(history.events ?? []),
        };
      };
      if (sweepChunks) {
        const sweep: Array<Array<string | number>> = [];
        for (const [i, size] of sweepChunks.entries()) {
          // Whole seconds after T: each sweep run is its own instance, and only timed, not fingerprinted.
          const r = await runPtpass(job.settings(1, size), new Date(asOf.getTime() + (i + 1) * 1000));
          sweep.push([size, fmt.s(r.seconds), fmt.rate(items, r.seconds)]);
        }
        console.log(
          `${job.job}: chunk size sweep (1 partition, ${items.toLocaleString('en-US')} ${unit})\n${formatTable(['chunk size', 'seconds', 'rows/s'], sweep)}\n`,
        );
      }
      // The measured run has the limit arm's logical time: rows stamped with T (expired_at) must match.
      const settings = job.settings(partitions);
      // A step that cannot be split by key range runs as one partition whatever --partitions says.
      const ptpassPartitions = Math.max(
        1,
        ...Object.values(settings.steps ?? {}).map((s) => s.partitions ?? 1),
      );
      // --repeat: limit-parallel and ptpass take turns, and each reports its median (all runs printed).
      const lpRuns: Array<Awaited<ReturnType<typeof runLimitParallel>>> = [];
      const ptpassRuns: Array<Awaited<ReturnType<typeof runPtpass>>> = [];
      for (let i = 0; i < repeat; i++) {
        if (i > 0) limitRuns.push(await runLimit());
        if (job.limitParallel && partitions > 1) lpRuns.push(await runLimitParallel(job.limitParallel));
        ptpassRuns.push(await runPtpass(settings, asOf));
      }
      const limitParallel = lpRuns.length
        ? {
            ...lpRuns.at(-1)!,
            seconds: median(lpRuns.map((r) => r.seconds)),
            same: lpRuns.every((r) => r.same),
          }
        : undefined;
      const ptpass = { ...ptpassRuns.at(-1)!, seconds: median(ptpassRuns.map((r) => r.seconds)) };
      const limit = { seconds: median(limitRuns.map((r) => r.seconds)) };
      if (repeat > 1) {
        const list = (runs: Array<{ seconds: number }>) => runs.map((r) => fmt.s(r.seconds)).join(' / ');
        notes.push(
          `${repeat} runs of each arm in turn, medians used: limit ${list(limitRuns)}; ` +
            `${lpRuns.length ? `limit-parallel ${list(lpRuns)}; ` : ''}ptpass ${list(ptpassRuns)}`,
        );
      }
      const ptpassPrint = await job.fingerprint(sql);
      // --idle-run (the growth runs): the same instance again on the rows the ptpass arm left, where nothing
      // is due any more: the run's cost apart from its rows (start, planning, steps finding nothing, close).
      const idle = values['idle-run']
        ? await timed(() =>
            launchJob(
              { client, db, taskQueue },
              { job: job.job, asOf, params, settings, wait: true, rerun: true },
            ),
          )
        : undefined;
      if (job.afterArm) notes.push(await job.afterArm(sql, 'ptpass', ptpass.seconds));

      // The same run with more worker processes on the task queue (jobs that run in partitions).
      let scaledOut: (Awaited<ReturnType<typeof runPtpass>> & { same: boolean }) | undefined;
      if (ptpassPartitions > 1 && workerCount > 1) {
        const extra: BenchWorker[] = [];
        try {
          for (let i = 1; i < workerCount; i++) {
            const added = await startWorkerProcess(workerEnv);
            extra.push(added);
            await warmUp(client, taskQueue, db, added.pid);
          }
          const run = await runPtpass(settings, asOf);
          scaledOut = { ...run, same: (await job.fingerprint(sql)) === ptpassPrint };
        } finally {
          for (const w of extra) await w.stop();
        }
      }

      // reference (sample); --reference-cap 0 skips it (the growth runs).
      const reference = referenceCap > 0 ? await referenceArm(sql, job, asOf, items) : undefined;
      if (reference?.note) notes.push(reference.note);

      const same = limitPrint === ptpassPrint && (reference?.same ?? true) && (limitParallel?.same ?? true);
      const rss = worker.peakRssMb();
      const row = {
        job: job.job,
        unit,
        items,
        limitSeconds: limit.seconds,
        ptpassSeconds: ptpass.seconds,
        idleSeconds: idle?.seconds,
        referenceSeconds: reference?.seconds,
        referenceSample: reference?.processed,
        referenceSampleSeconds: reference?.sampleSeconds,
        ptpassOverLimit: ptpass.seconds / limit.seconds,
        limitParallelSeconds: limitParallel?.seconds,
        ptpassOverLimitParallel: limitParallel ? ptpass.seconds / limitParallel.seconds : undefined,
        referenceOverPtpass: reference ? reference.seconds / ptpass.seconds : undefined,
        ptpassPartitions,
        workerPeakRssMb: rss,
        historyEvents: ptpass.events,
        workers: scaledOut
          ? {
              count: workerCount,
              seconds: scaledOut.seconds,
              stepsByWorker: scaledOut.stepsByWorker,
              sameRows: scaledOut.same,
            }
          : undefined,
        written: ptpass.result.written,
        sameRows: same,
        notes,
      };
      results.push(row);
      console.log(`${job.job} — ${items.toLocaleString('en-US')} ${unit}`);
      for (const table of job.tables) await sql.unsafe(`DROP TABLE bench_snapshot_${table}`);
      if (!same) {
        console.log('  ARMS DISAGREE: the rows differ, no ratios printed', {
          limitPrint,
          ptpassPrint,
          referenceSame: reference?.same,
          limitParallelSame: limitParallel?.same,
        });
        for (const note of notes) console.log(`  ${note}`);
        continue;
      }
      /** One arm's line of the job's table. */
      const arm = (name: string, seconds: number, note: string) => [
        name,
        items,
        fmt.s(seconds),
        fmt.rate(items, seconds),
        note,
      ];
      console.log(
        formatTable(
          ['arm', 'rows', 'seconds', 'rows/s', 'note'],
          [
            arm('limit', limit.seconds, 'fewest set-based statements, one session'),
            ...(limitParallel
              ? [
                  arm(
                    'limit-parallel',
                    limitParallel.seconds,
                    `the same statements over ${limitParallel.ranges} key ranges, one session each`,
                  ),
                ]
              : []),
            arm(
              'ptpass',
              ptpass.seconds,
              `${Math.max(...ptpass.result.steps.map((s) => s.partitions))} partition(s), Temporal, worker process`,
            ),
            ...(reference
              ? [
                  arm(
                    'reference',
                    reference.seconds,
                    reference.processed >= items
                      ? `all ${items} ${unit}, measured`
                      : `extrapolated from ${reference.processed} ${unit} in ${fmt.s(reference.sampleSeconds)} s`,
                  ),
                ]
              : []),
          ],
        ),
      );
      console.log(
        `  ptpass ÷ limit ${fmt.ratio(ptpass.seconds, limit.seconds)}` +
          (limitParallel
            ? ` · ptpass ÷ limit-parallel ${fmt.ratio(ptpass.seconds, limitParallel.seconds)}`
            : '') +
          (reference ? ` · reference ÷ ptpass ${fmt.ratio(reference.seconds, ptpass.seconds)}` : '') +
          ` · worker peak RSS ${rss} MB · history events ${ptpass.events}`,
      );
      if (scaledOut) {
        const ran = Object.values(scaledOut.stepsByWorker).join(' + ');
        console.log(
          `  worker processes: 1 → ${fmt.s(ptpass.seconds)} s (${fmt.rate(items, ptpass.seconds)} rows/s); ` +
            `${workerCount} → ${fmt.s(scaledOut.seconds)} s (${fmt.rate(items, scaledOut.seconds)} rows/s), ` +
            `step partitions run per process ${ran}${scaledOut.same ? '' : ' — ROWS DIFFER from the one-worker run'}`,
        );
      }
      for (const note of notes) console.log(`  ${note}`);
      console.log('');
    }
    if (sections.includes('cli')) {
      cliFigures = benchCli({ databaseUrl: benchUrl, temporalAddress: address });
      printCliFigures(cliFigures);
    }
  } finally {
    await worker.stop();
    for (const service of services) await service.stop();
    await close();
    await sql.end();
    await connection.close();
    await env.teardown();
    const dropper = adminSql(adminUrl);
    await dropper.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await dropper.end();
  }
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  const file =
    values.out ?? join(ROOT, 'bench-results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ scale, partitions, referenceCap, results, cli: cliFigures }, null, 2));
  console.log(`figures written to ${file}`);
}

const GROWTH_FACTORS = [0.1, 1, 5];

/** `--growth`: the same jobs at three sizes, each in a bench process of its own; one table at the end. */
async function growth(): Promise<void> {
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  const rows: Array<Array<string | number>> = [];
  const perRow: Record<string, number[]> = {};
  const beyondIdlePerRow: Record<string, number[]> = {};
  const limitPerRow: Record<string, number[]> = {};
  // --jobs narrows the growth jobs (refused above when it names none of them).
  for (const job of GROWTH_JOBS.filter((name) => !askedJobs || askedJobs.includes(name))) {
    for (const factor of GROWTH_FACTORS) {
      const size = scale * factor;
      const out = join(ROOT, 'bench-results', `growth-${job}-${size}-${process.pid}.json`);
      const args = ['--import', 'tsx', join(ROOT, 'bench', 'run.ts'), '--scale', String(size), '--jobs', job];
      args.push(
        '--partitions',
        String(partitions),
        '--workers',
        '1',
        '--reference-cap',
        '0',
        '--sections',
        'jobs',
        // --repeat N: each size's arms take turns N times and report medians, as in a plain bench run.
        '--repeat',
        String(repeat),
      );
      args.push('--idle-run', '--out', out);
      console.log(`growth: ${job} at scale ${size}...`);
      const code = await new Promise<number | null>((resolve) =>
        spawn(process.execPath, args, { cwd: ROOT, stdio: 'ignore' }).once('exit', resolve),
      );
      if (code !== 0) throw new Error(`growth: the bench of ${job} at scale ${size} exited with ${code}`);
      const [r] = JSON.parse(readFileSync(out, 'utf8')).results as Array<{
        items: number;
        ptpassSeconds: number;
        limitParallelSeconds?: number;
        idleSeconds?: number;
        workerPeakRssMb: number;
        historyEvents: number;
        sameRows: boolean;
      }>;
      if (!r) throw new Error(`growth: no result for ${job} at scale ${size}`);
      const secondsPerMillion = (r.ptpassSeconds / r.items) * 1e6;
      perRow[job] = [...(perRow[job] ?? []), secondsPerMillion];
      const limitPerMillion = r.limitParallelSeconds ? (r.limitParallelSeconds / r.items) * 1e6 : undefined;
      if (limitPerMillion) limitPerRow[job] = [...(limitPerRow[job] ?? []), limitPerMillion];
      const beyondIdle =
        r.idleSeconds === undefined ? undefined : ((r.ptpassSeconds - r.idleSeconds) / r.items) * 1e6;
      if (beyondIdle !== undefined) beyondIdlePerRow[job] = [...(beyondIdlePerRow[job] ?? []), beyondIdle];
      rows.push([
        job,
        `${factor}×`,
        r.items,
        fmt.s(r.ptpassSeconds),
        fmt.s(secondsPerMillion),
        r.idleSeconds === undefined ? '-' : fmt.s(r.idleSeconds),
        beyondIdle === undefined ? '-' : fmt.s(beyondIdle),
        limitPerMillion ? fmt.s(limitPerMillion) : '-',
        r.limitParallelSeconds ? fmt.ratio(r.ptpassSeconds, r.limitParallelSeconds) : '-',
        r.workerPeakRssMb,
        r.historyEvents,
        r.sameRows ? 'yes' : 'NO',
      ]);
    }
  }
  console.log(
    `\ngrowth (scale ${scale} = 1×)\n${formatTable(
      [
        'job',
        'size',
        'rows',
        'ptpass s',
        's per million rows',
        'idle run s',
        's per million beyond the idle run',
        'limit-parallel s per million',
        'ptpass ÷ limit-parallel',
        'worker peak RSS MB',
        'history events',
        'rows = limit',
      ],
      rows,
    )}`,
  );
  const spread = (costs: number[]) => {
    const mid = costs[1]!;
    return costs.map((c) => `${c >= mid ? '+' : ''}${(((c - mid) / mid) * 100).toFixed(0)} %`).join(', ');
  };
  for (const [job, costs] of Object.entries(perRow)) {
    const limit = limitPerRow[job];
    const beyond = beyondIdlePerRow[job];
    console.log(
      `  ${job}: per-row cost against 1×: ${spread(costs)} (target within ±15 %)` +
        (beyond?.length === costs.length ? `; beyond the idle run: ${spread(beyond)}` : '') +
        (limit?.length === costs.length ? `; limit-parallel's: ${spread(limit)}` : ''),
    );
  }
}

(values.growth ? growth() : main()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
