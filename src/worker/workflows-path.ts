/** Entry point of every workflow the worker registers (the source, also when this code runs compiled). */
export { WORKFLOWS_PATH } from '../paths.ts';
