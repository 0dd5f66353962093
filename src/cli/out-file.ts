import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './command.ts';

/**
 * Writes a command's `--out FILE` whole or not at all (`stats export`, `import rejects`): beside the target,
 * then renamed over it, so a reader never sees half a file. A file that cannot be written (no such
 * directory, no permission) is bad input: one line, `cannot write FILE: ENOENT`, exit 2. Returns the
 * absolute path written.
 */
export async function writeOutFile(out: string, contents: string): Promise<string> {
  const file = resolve(out);
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, contents, { flag: 'wx' });
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot write ${out}: ${code ?? (err instanceof Error ? err.message : String(err))}`,
    );
  }
  return file;
}
