/**
 * Error names the engine gives meaning to, in one place: the workflow's retry policy lists the
 * non-retryable ones, the step runner and job definitions throw them. No I/O and no Node built-ins here:
 * the workflow sandbox imports this file.
 */
export const ERROR_NAMES = {
  /** Bad job input or parameters: retrying cannot help. */
  invalidParameters: 'InvalidParameters',
  /** More items skipped than the step allows. */
  skipLimitExceeded: 'SkipLimitExceeded',
  /** The worker has no handler for the step. */
  unknownStep: 'UnknownStep',
  /** An older claim of a step whose work a newer claim (lease) has taken over. */
  staleAttempt: 'StaleAttempt',
  /** The worker is shutting down; the step resumes on another attempt. */
  workerShutdown: 'WorkerShutdown',
  /** The workflow's own failure after a step failed, carrying the step's failure as its cause. */
  jobFailed: 'JobFailed',
  /** An operator stopped the run (`ptpass runs stop`); restartable like a failed run. */
  jobStopped: 'JobStopped',
} as const;

/** Step failures Temporal must not retry. */
export const NON_RETRYABLE_ERROR_NAMES: string[] = [
  ERROR_NAMES.invalidParameters,
  ERROR_NAMES.skipLimitExceeded,
  ERROR_NAMES.unknownStep,
];

const MAX_MESSAGE = 300;

/**
 * An error and its causes as one line, the deepest cause first: the database's own message ("pass 42:
 * boom") before the wrappers that carried it ("Failed query: ...", "Activity task failed"). Each message
 * keeps its first line only, shortened, and a message repeated by its wrapper is given once.
 */
/**
 * PostgreSQL's data exceptions quote the value they refused (`invalid input syntax for type integer:
 * "010-..."`): a run's error (its record, memo, log line and alert) keeps the message, not the value.
 */
const REFUSED_VALUE =
  /^((?:invalid input syntax for type [\w ]+|invalid input value for enum \w+|date\/time field value out of range|invalid byte sequence for encoding "[\w-]+"): ).+$/;

function withoutRefusedValue(line: string): string {
  return line.replace(REFUSED_VALUE, '$1[redacted]');
}

export function describeCauses(err: unknown): string {
  const messages: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    const raw = current instanceof Error ? current.message : String(current);
    const line = withoutRefusedValue((raw.split('\n')[0] ?? '').trim());
    const short = line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line;
    if (short && !messages.includes(short)) messages.push(short);
    current = current instanceof Error ? (current as { cause?: unknown }).cause : undefined;
  }
  return messages.reverse().join(' ← ') || 'unknown error';
}
