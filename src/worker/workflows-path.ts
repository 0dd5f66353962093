import { fileURLToPath } from 'node:url';

/** Entry point of every workflow the worker registers. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
