import { execFile } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../paths.ts';

/**
 * Finds or provisions the Temporal CLI (which embeds the dev server and its Web UI).
 *
 * Order: TEMPORAL_CLI; the project's git-ignored `.tools/bin`; a machine-wide cache that survives fresh
 * clones (`$XDG_CACHE_HOME/ptpass`); `temporal` on PATH; `go install` of the pinned version (reusing Go's
 * module and build caches). When none of these works the caller falls back to the SDK's own download.
 */

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** Later tags carry a `replace` directive that `go install` refuses. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

const run = promisify(execFile);
export const PROJECT_TOOLS_BIN = join(PROJECT_ROOT, '.tools', 'bin');

function machineCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'ptpass', `temporal-${TEMPORAL_CLI_VERSION}`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export class TemporalCliError extends Error {
  override name = 'TemporalCliError';
}

export interface CliLocation {
  path: string;
  source: 'TEMPORAL_CLI' | 'project' | 'machine-cache' | 'PATH' | 'go install';
}

/** Returns the CLI to use, building it with Go if needed; undefined when only the SDK download is left. */
export async function ensureTemporalCli(
  options: { explicit?: string; log?: (line: string) => void } = {},
): Promise<CliLocation | undefined> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (options.explicit) {
    if (!isExecutable(options.explicit)) {
      throw new TemporalCliError(
        `TEMPORAL_CLI points at ${options.explicit}, which is not an executable file`,
      );
    }
    return { path: options.explicit, source: 'TEMPORAL_CLI' };
  }
  const projectBinary = join(PROJECT_TOOLS_BIN, 'temporal');
  if (isExecutable(projectBinary)) return { path: projectBinary, source: 'project' };

  const cached = join(machineCacheDir(), 'temporal');
  if (isExecutable(cached)) {
    copyInto(cached, projectBinary);
    return { path: projectBinary, source: 'machine-cache' };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { path: fromPath, source: 'PATH' };

  const go = onPath('go');
  if (!go) {
    log(
      'ptpass: no Temporal CLI and no Go toolchain; falling back to the Temporal SDK download (needs internet)',
    );
    return undefined;
  }
  log(
    `ptpass: building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (first time only, a few minutes)...`,
  );
  mkdirSync(PROJECT_TOOLS_BIN, { recursive: true });
  try {
    await run(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: PROJECT_TOOLS_BIN, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new TemporalCliError(
      `go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed: ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
  if (!isExecutable(projectBinary))
    throw new TemporalCliError(`go install finished but ${projectBinary} is missing`);
  copyInto(projectBinary, cached);
  return { path: projectBinary, source: 'go install' };
}

function copyInto(from: string, to: string): void {
  if (existsSync(to)) return;
  try {
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
  } catch {
    // The cache is an optimisation; a read-only home directory must not stop anything.
  }
}

/** The `server.executable` option of the SDK's dev-server helpers for a located CLI. */
export function devServerExecutable(cli: CliLocation | undefined) {
  return cli
    ? ({ type: 'existing-path', path: cli.path } as const)
    : ({ type: 'cached-download', version: 'default' } as const);
}
