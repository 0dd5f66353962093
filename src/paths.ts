import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Files ptpass reads at run time from its checkout (or image): the SQL migrations and the workflow
 * sources, which Temporal's bundler compiles itself. Found from the project root, so the same code works
 * run from `src/` through tsx and compiled into `dist/src/`.
 */
function findProjectRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
export const MIGRATIONS_FOLDER = join(PROJECT_ROOT, 'drizzle');
/** Entry point of every workflow the worker registers: always the TypeScript source. */
export const WORKFLOWS_PATH = join(PROJECT_ROOT, 'src', 'workflows', 'index.ts');
/** Whether this code runs compiled (dist/) rather than from source through tsx. */
export const COMPILED = import.meta.url.endsWith('.js');
