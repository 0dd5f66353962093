import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

/**
 * There is no Docker engine here, so the Dockerfile's steps run as Docker would run them: the build stage's
 * COPY lines copy into a clean directory, its RUN lines run there with sh, then the run stage's
 * `COPY --from=build` lines assemble the image's /app, where the compiled CLI and the workflow bundler must
 * work with production dependencies only.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Stage {
  name: string | undefined;
  steps: Array<{ kind: 'COPY' | 'RUN'; from?: string; sources: string[]; target: string; command: string }>;
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const line of text.split('\n')) {
    const from = /^FROM \S+(?: AS (\S+))?$/.exec(line);
    if (from) stages.push({ name: from[1], steps: [] });
    const stage = stages.at(-1);
    const copy = /^COPY (?:--from=(\S+) )?(.+) (\S+)$/.exec(line);
    if (stage && copy)
      stage.steps.push({
        kind: 'COPY',
        from: copy[1],
        sources: copy[2]!.split(' '),
        target: copy[3]!,
        command: '',
      });
    const run = /^RUN (.+)$/.exec(line);
    if (stage && run) stage.steps.push({ kind: 'RUN', sources: [], target: '', command: run[1]! });
  }
  return stages;
}

it('the Dockerfile installs from the committed lock, builds and assembles a runnable image', {
  timeout: 900_000,
}, () => {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const [build, run] = stages;
  expect(build?.name).toBe('build');
  expect(run?.steps.some((s) => s.kind === 'RUN')).toBe(false);

  // Build stage: a clean /app with only what the Dockerfile copies in.
  const app = mkdtempSync(join(tmpdir(), 'ptpass-image-build-'));
  dirs.push(app);
  for (const step of build!.steps) {
    if (step.kind === 'COPY') {
      for (const source of step.sources) {
        const target = step.target.endsWith('/') ? join(app, step.target, source) : join(app, step.target);
        cpSync(join(ROOT, source), target, { recursive: true });
      }
    } else {
      execFileSync('sh', ['-c', step.command], {
        cwd: app,
        stdio: 'pipe',
        env: { ...process.env, npm_config_update_notifier: 'false' },
      });
    }
  }
  expect(existsSync(join(app, 'dist', 'worker.js'))).toBe(true);
  expect(existsSync(join(app, 'dist', 'cli-help.txt'))).toBe(true);
  // Dev dependencies are gone after the prune.
  expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false);
  expect(existsSync(join(app, 'node_modules', 'vitest'))).toBe(false);

  // Run stage: what `COPY --from=build` puts in the image.
  const image = mkdtempSync(join(tmpdir(), 'ptpass-image-run-'));
  dirs.push(image);
  for (const step of run!.steps) {
    expect(step.from, `run-stage step ${step.command || step.sources.join(' ')}`).toBe('build');
    for (const source of step.sources)
      cpSync(join(app, source.replace(/^\/app\/?/, '')), join(image, step.target), { recursive: true });
  }
  const help = execFileSync(process.execPath, ['bin/ptpass.mjs', '--help'], { cwd: image, encoding: 'utf8' });
  expect(help).toContain('ptpass runs list');
  // A command that loads its modules, with a database that is not there: a clean one-line error.
  let failed: { status: number; stderr: string } | undefined;
  try {
    execFileSync(process.execPath, ['dist/client.js', 'runs', 'list'], {
      cwd: image,
      encoding: 'utf8',
      stdio: 'pipe',
      env: {
        ...process.env,
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      },
    });
  } catch (err) {
    failed = err as { status: number; stderr: string };
  }
  expect(failed?.status).toBe(1);
  expect(failed?.stderr).toMatch(
    /^ptpass runs list: DATABASE_URL: cannot use the database at postgres:\/\/nobody@127\.0\.0\.1:1\/none: connection refused/,
  );
  // The worker bundles the workflows from their sources with production dependencies only.
  const bundle = join(image, 'workflows.js');
  execFileSync(process.execPath, ['dist/src/worker/bundle-workflows.js', bundle], {
    cwd: image,
    stdio: 'pipe',
  });
  expect(readFileSync(bundle, 'utf8')).toContain('deductSessions');
});
