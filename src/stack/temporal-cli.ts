import { spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../paths.ts';

/**
 * Finds or provisions the Temporal CLI (which embeds the dev server and its Web UI).
 *
 * Order: TEMPORAL_CLI; the project's git-ignored `.tools/bin`; a machine-wide cache that survives fresh
 * clones (`$XDG_CACHE_HOME/ptpass`); `temporal` on PATH; then, when the Temporal SDK's download site answers
 * within a few seconds, the SDK's own download (fast; returns undefined); otherwise `go install` of the
 * pinned version (reusing Go's module and build caches), reporting progress every 10 seconds.
 */

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** Later tags carry a `replace` directive that `go install` refuses. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** Where the SDK's `cached-download` dev server comes from; any HTTP answer means it is reachable. */
export const SDK_DOWNLOAD_URL = 'https://temporal.download/';
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
  options: {
    explicit?: string;
    log?: (line: string) => void;
    /** Overrides for tests: where go install puts the binary, the download probed, the progress interval. */
    toolsBin?: string;
    downloadUrl?: string;
    progressEveryMs?: number;
    /** Whether to use the SDK download when it answers rather than build (the tests need a binary path). */
    preferDownload?: boolean;
  } = {},
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
  const toolsBin = options.toolsBin ?? PROJECT_TOOLS_BIN;
  const projectBinary = join(toolsBin, 'temporal');
  if (isExecutable(projectBinary)) return { path: projectBinary, source: 'project' };

  const cached = join(machineCacheDir(), 'temporal');
  if (isExecutable(cached)) {
    copyInto(cached, projectBinary);
    return { path: projectBinary, source: 'machine-cache' };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { path: fromPath, source: 'PATH' };

  const downloadUrl = options.downloadUrl ?? SDK_DOWNLOAD_URL;
  const go = onPath('go');
  if ((options.preferDownload ?? true) && (await answers(downloadUrl, 3000))) {
    log(
      `ptpass: no Temporal CLI here; the Temporal SDK downloads its dev server from ${downloadUrl} (cached by the SDK in ${tmpdir()})`,
    );
    return undefined;
  }
  if (!go) {
    log(
      `ptpass: no Temporal CLI, no Go toolchain, and ${downloadUrl} did not answer; trying the Temporal SDK download anyway`,
    );
    return undefined;
  }
  log(
    `ptpass: building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (${downloadUrl} did not answer; first time only, a few minutes; then cached in ${cached})...`,
  );
  mkdirSync(toolsBin, { recursive: true });
  await goInstall(go, toolsBin, {
    log,
    everyMs: options.progressEveryMs ?? 10_000,
    cachedIn: `${projectBinary} and ${cached}`,
  });
  if (!isExecutable(projectBinary))
    throw new TemporalCliError(`go install finished but ${projectBinary} is missing`);
  copyInto(projectBinary, cached);
  return { path: projectBinary, source: 'go install' };
}

async function answers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false;
  }
}

/**
 * `go install -v`, printing a progress line every `everyMs`: the time so far and what Go is doing (the
 * module it downloads or the package it compiles, from its -v output).
 */
async function goInstall(
  go: string,
  toolsBin: string,
  progress: { log: (line: string) => void; everyMs: number; cachedIn: string },
): Promise<void> {
  const started = Date.now();
  let doing = 'resolving modules';
  let tail: string[] = [];
  const child = spawn(go, ['install', '-v', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: toolsBin, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = chunk.split('\n').filter((line) => line.trim());
    tail = [...tail, ...lines].slice(-5);
    const last = lines.at(-1);
    if (!last) return;
    doing = last.startsWith('go: downloading ') ? `downloading ${last.slice(16)}` : `compiling ${last}`;
  });
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    const elapsed =
      seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
    progress.log(
      `ptpass: building the Temporal CLI ${TEMPORAL_CLI_VERSION}: ${elapsed} so far, ${doing} (will be cached in ${progress.cachedIn})`,
    );
  }, progress.everyMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    if (code !== 0)
      throw new TemporalCliError(
        `go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed (exit ${code}): ${tail.join(' | ')}`,
      );
  } finally {
    clearInterval(timer);
  }
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
