import { spawn } from 'node:child_process';
import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';

/**
 * `npm run bench` refuses a bad flag with one line naming it and exit 2, before it creates its database
 * (README "Performance").
 */

const ROOT = join(import.meta.dirname, '..');

function bench(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, BENCH_DATABASE_URL: inject('postgresAdminUrl') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const refusals: Array<[string[], string]> = [
  [['--repeat', '0'], "bench: --repeat must be a whole number >= 1 (got '0')"],
  [['--scale', 'abc'], "bench: --scale must be a number > 0 (got 'abc')"],
  [['--partitions', '1.5'], "bench: --partitions must be a whole number >= 1 (got '1.5')"],
  [['--reference-cap', '3'], "bench: --reference-cap must be 0 (skip) or >= 5 (got '3')"],
  [['--workers', '0'], "bench: --workers must be a whole number >= 1 (got '0')"],
  [['--sweep-chunks', '500,x'], "bench: --sweep-chunks must be a whole number >= 1 (got 'x')"],
  [['--sections', 'jobs,ui'], "bench: --sections is a list of 'jobs' and 'cli'"],
  [
    ['--growth', '--jobs', 'statistics'],
    'bench: --growth runs pass-lifecycle and deduct-sessions: --jobs names neither',
  ],
  [['--bogus'], "bench: Unknown option '--bogus'"],
  [['extra'], "bench: Unexpected argument 'extra'"],
  [['--workers', '-1'], "bench: Option '--workers' argument is ambiguous"],
];

describe('npm run bench', () => {
  it('refuses bad flags with one line naming the flag, exit 2, and creates no database', async () => {
    const admin = postgres(inject('postgresAdminUrl'), { max: 1, onnotice: () => {} });
    const benchDatabases = async () =>
      (await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE 'ptpass_bench%'`)
        .map((r) => r.datname)
        .sort();
    try {
      const before = await benchDatabases();
      const runs = await Promise.all([
        ...refusals.map(([args]) => bench(args)),
        bench(['--jobs', 'pass-lifecyle']),
      ]);
      for (const [i, [args, message]] of refusals.entries()) {
        expect({ args, ...runs[i] }).toEqual({ args, code: 2, stdout: '', stderr: `${message}\n` });
      }
      const typo = runs.at(-1)!;
      expect(typo.code).toBe(2);
      expect(typo.stderr).toMatch(
        /^bench: --jobs: no benchmark for 'pass-lifecyle' \(pass-lifecycle, [^\n]*\)\n$/,
      );
      expect(await benchDatabases()).toEqual(before);
    } finally {
      await admin.end();
    }
  }, 60_000);
});
