import { execFileSync, spawnSync } from 'node:child_process';
import { fmt, formatTable, ROOT } from './support.ts';

/**
 * The `cli` section of `npm run bench`: how long the compiled `ptpass` takes, against `node -e 0` in the
 * same run (the floor of any Node program on this machine). Median of `runs` runs each, wall time and peak
 * RSS. Targets (issue 15): --help at most 0.1 s above the floor and 60 MB; runs list and stats show 1.0 s.
 */

export interface CliFigure {
  command: string;
  medianSeconds: number;
  overNodeSeconds: number;
  peakRssMb: number;
  target: string;
  met: boolean;
}

const PROBE = ['--import', './bench/rss-probe.mjs'];

function measureOnce(args: string[], env: NodeJS.ProcessEnv): { seconds: number; rssMb: number } {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [...PROBE, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const code = result.status;
  // `ptpass` alone exits 2 by design; anything else but 0 is a failed measurement.
  if (code !== 0 && !(args.length === 1 && code === 2))
    throw new Error(`bench cli: ${args.join(' ')} exited ${code}: ${result.stderr?.toString().slice(-500)}`);
  return { seconds, rssMb: Number(result.output[3]?.toString() ?? 0) / 1024 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function benchCli(options: {
  databaseUrl: string;
  temporalAddress: string;
  runs?: number;
}): CliFigure[] {
  const runs = options.runs ?? 10;
  // The figures are for the compiled CLI, so build it first (incremental: quick when nothing changed).
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const env = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    TEMPORAL_ADDRESS: options.temporalAddress,
    LOG_LEVEL: 'warn',
  };
  const cases: Array<{
    label: string;
    args: string[];
    target: (s: number, over: number, mb: number) => boolean;
    text: string;
  }> = [
    { label: 'node -e 0', args: ['-e', '0'], target: () => true, text: '(the floor)' },
    {
      label: 'ptpass --help',
      args: ['bin/ptpass.mjs', '--help'],
      target: (_s, over, mb) => over <= 0.1 && mb <= 60,
      text: '≤ 0.1 s over node, ≤ 60 MB',
    },
    {
      label: 'ptpass runs list',
      args: ['bin/ptpass.mjs', 'runs', 'list'],
      target: (s) => s <= 1,
      text: '≤ 1.0 s',
    },
    {
      label: 'ptpass stats show',
      // The month before the statistics bench's logical time (2026-06-01), where its figures are.
      args: ['bin/ptpass.mjs', 'stats', 'show', '--from', '2026-05-01', '--to', '2026-05-31'],
      target: (s) => s <= 1,
      text: '≤ 1.0 s',
    },
  ];
  // Interleaved rounds, so a busy moment on the machine touches every command alike.
  const samples = cases.map(() => ({ seconds: [] as number[], rss: [] as number[] }));
  for (let round = 0; round < runs; round++) {
    for (const [i, c] of cases.entries()) {
      const m = measureOnce(c.args, env);
      samples[i]!.seconds.push(m.seconds);
      samples[i]!.rss.push(m.rssMb);
    }
  }
  const floor = median(samples[0]!.seconds);
  return cases.map((c, i) => {
    const seconds = median(samples[i]!.seconds);
    const rss = Math.max(...samples[i]!.rss);
    return {
      command: c.label,
      medianSeconds: seconds,
      overNodeSeconds: seconds - floor,
      peakRssMb: Math.round(rss),
      target: c.text,
      met: c.target(seconds, seconds - floor, rss),
    };
  });
}

export function printCliFigures(figures: CliFigure[], runs = 10): void {
  console.log(`cli — compiled ptpass, median of ${runs} runs each (peak RSS: the largest of the runs)`);
  console.log(
    formatTable(
      ['command', 'seconds', 'over node -e 0', 'peak RSS MB', 'target', 'met'],
      figures.map((f) => [
        f.command,
        fmt.s(f.medianSeconds),
        f.command === 'node -e 0' ? '' : `${f.overNodeSeconds < 0 ? '' : '+'}${fmt.s(f.overNodeSeconds)}`,
        f.peakRssMb,
        f.target,
        f.command === 'node -e 0' ? '' : f.met ? 'yes' : 'NO',
      ]),
    ),
  );
  console.log('');
}
