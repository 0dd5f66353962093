import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTemporalCli } from '../src/stack/temporal-cli.ts';
import { freePort } from './helpers/cli.ts';

/**
 * The first start on a machine without a Temporal CLI: the SDK's download when it answers, otherwise
 * `go install`, which reports progress while it runs. `go` here is a script on PATH that prints what
 * `go install -v` prints and waits until the test has seen a progress line, then "installs" a binary;
 * the machine cache is a temporary XDG_CACHE_HOME, so the real cache is never touched.
 */

const dir = mkdtempSync(join(tmpdir(), 'ptpass-temporal-cli-'));
const fakeBin = join(dir, 'bin');
const release = join(dir, 'release');
const invoked = join(dir, 'go-invoked');
const saved = { PATH: process.env.PATH, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };

beforeAll(() => {
  mkdirSync(fakeBin);
  writeFileSync(
    join(fakeBin, 'go'),
    [
      '#!/bin/sh',
      `touch '${invoked}'`,
      'echo "go: downloading github.com/temporalio/cli v1.5.1" >&2',
      'echo "github.com/temporalio/cli/cmd/temporal" >&2',
      `until [ -f '${release}' ]; do sleep 0.05; done`,
      'printf "#!/bin/sh\\necho temporal\\n" > "$GOBIN/temporal"',
      'chmod +x "$GOBIN/temporal"',
    ].join('\n'),
  );
  chmodSync(join(fakeBin, 'go'), 0o755);
  process.env.PATH = `${fakeBin}:/usr/bin:/bin`;
  process.env.XDG_CACHE_HOME = join(dir, 'cache');
});

afterAll(() => {
  process.env.PATH = saved.PATH;
  if (saved.XDG_CACHE_HOME === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved.XDG_CACHE_HOME;
  rmSync(dir, { recursive: true, force: true });
});

describe('provisioning the Temporal CLI', () => {
  it('prefers the SDK download when its site answers, without building anything', async () => {
    const server = createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const lines: string[] = [];
    try {
      const cli = await ensureTemporalCli({
        log: (line) => lines.push(line),
        toolsBin: join(dir, 'tools-download'),
        downloadUrl: `http://127.0.0.1:${port}/`,
      });
      expect(cli).toBeUndefined();
    } finally {
      server.close();
    }
    expect(lines.join('\n')).toContain(
      `the Temporal SDK downloads its dev server from http://127.0.0.1:${port}/`,
    );
    expect(existsSync(invoked)).toBe(false);
  });

  it('falls back to go install when the download does not answer, saying every interval how far it is', async () => {
    const toolsBin = join(dir, 'tools-go');
    const lines: string[] = [];
    const cli = await ensureTemporalCli({
      toolsBin,
      downloadUrl: `http://127.0.0.1:${await freePort()}/`,
      progressEveryMs: 100,
      log: (line) => {
        lines.push(line);
        if (line.includes('compiling github.com/temporalio/cli/cmd/temporal')) writeFileSync(release, '');
      },
    });
    expect(cli).toEqual({ path: join(toolsBin, 'temporal'), source: 'go install' });
    expect(lines[0]).toMatch(
      /^ptpass: building the Temporal CLI v1\.5\.1 with go install \(.* did not answer/,
    );
    const progress = lines.find((line) => line.includes('compiling github.com/temporalio/cli/cmd/temporal'));
    expect(progress).toMatch(
      /^ptpass: building the Temporal CLI v1\.5\.1: \d+s so far, compiling github\.com\/temporalio\/cli\/cmd\/temporal \(will be cached in .*tools-go\/temporal and .*cache\/ptpass\/temporal-v1\.5\.1\/temporal\)$/,
    );
    // The built binary went into the (temporary) machine cache too, for the next clone.
    expect(existsSync(join(dir, 'cache', 'ptpass', 'temporal-v1.5.1', 'temporal'))).toBe(true);
  });
});
