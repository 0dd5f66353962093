import pino, { type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

/**
 * Logs through pino: JSON lines on stderr (`{"level","time","msg",...fields}`), or readable lines when
 * stderr is a terminal (pino-pretty, in-process: no worker thread). Fields are IDs, times and counts —
 * never names, phone numbers or message text; a field that slips through under a personal or secret name
 * is redacted, and a password inside a connection URL is masked wherever a string field holds one.
 * Errors under `error` or `err` keep their type, message, stack and `cause` chain, less a failed query's values.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Field names whose values never reach a log line, at the top level or one object down. */
const REDACTED_KEYS = [
  'password',
  'adminPassword',
  'ADMIN_PASSWORD',
  'token',
  'accessToken',
  'authorization',
  'secret',
  'sessionSecret',
  'databaseUrl',
  'DATABASE_URL',
  'name',
  'memberName',
  'phone',
  'phoneNumber',
  'text',
  'body',
];
const REDACT_PATHS = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`]);

const URL_PASSWORD = /(\/\/[^:@/\s]+):[^@/\s]*@/g;

function maskUrls(value: unknown): unknown {
  return typeof value === 'string' ? value.replace(URL_PASSWORD, '$1:***@') : value;
}

export function createLogger(
  level: LogLevel = 'info',
  base: Record<string, unknown> = {},
  /** Where JSON lines go (one call per line, without the newline); stderr when absent. */
  write?: (line: string) => void,
): Logger {
  const destination: DestinationStream = write
    ? { write: (line: string) => write(line.replace(/\n$/, '')) }
    : process.stderr.isTTY
      ? pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l' })
      : pino.destination({ dest: 2, sync: true });
  const root = pino(
    {
      level,
      base: null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, maskUrls(v)])),
      },
      serializers: { err: serializeError, error: serializeError },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map(maskUrls) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
  return wrap(Object.keys(base).length ? root.child(base) : root);
}

/**
 * An `error` or `err` field: pino's error serializer (type, message, stack, cause chain) for errors, as-is
 * otherwise. A failed query's values never reach the line: its message's `params:` line (Drizzle lists the
 * statement's parameters there: names, phone numbers), PostgreSQL's `detail` (`Key (phone)=(...)`,
 * `Failing row contains (...)`) and the quoted value in a data exception's message are redacted, in the
 * error and every cause.
 */
function serializeError(value: unknown): unknown {
  return value instanceof Error ? withoutQueryValues(pino.stdSerializers.errWithCause(value)) : value;
}

const QUERY_VALUE_KEYS = new Set(['params', 'parameters', 'detail', 'where', 'internal_query']);

function withoutQueryValues(value: unknown, depth = 0, quotesValues = false): unknown {
  if (typeof value === 'string') {
    // To the stack's first frame or the end: a parameter may hold a newline.
    const text = value.replace(/^params: [\s\S]*?(?=\n\s+at |(?![\s\S]))/m, 'params: [redacted]');
    return quotesValues ? text.replace(/"[^"\n]*"/g, '"[redacted]"') : text;
  }
  if (!value || typeof value !== 'object' || depth > 10) return value;
  if (Array.isArray(value)) return value.map((item) => withoutQueryValues(item, depth + 1));
  // PostgreSQL's data exceptions (class 22) quote the value they refused: `invalid input syntax for type
  // integer: "010-..."`.
  const dataException = 'code' in value && typeof value.code === 'string' && value.code.startsWith('22');
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      QUERY_VALUE_KEYS.has(key)
        ? '[redacted]'
        : withoutQueryValues(item, depth + 1, dataException && (key === 'message' || key === 'stack')),
    ]),
  );
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (fields) => wrap(p.child(fields)),
  };
}
