import { z } from 'zod';
import { DEFAULT_NO_SHOW_POLICY, NO_SHOW_POLICIES, type NoShowPolicy } from './jobs/deduct-sessions.ts';

/**
 * The one place that reads the environment. Every entrypoint calls `loadConfig()` first; a bad value
 * stops start-up with a message that names the variable.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const port = (fallback: number) =>
  z.coerce
    .number({ message: 'must be a port number' })
    .int('must be a whole number')
    .min(0, 'must be between 0 and 65535')
    .max(65535, 'must be between 0 and 65535')
    .default(fallback);

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const postgresUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a postgres:// or postgresql:// URL with a host, e.g. postgres://user@127.0.0.1:5432/ptpass');

const wholeNumber = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be between ${min} and ${max}`)
    .max(max, `must be between ${min} and ${max}`)
    .default(fallback);

const envSchema = z.object({
  DATABASE_URL: postgresUrl.optional(),
  PTPASS_DATA_DIR: z.string().min(1).default('.data'),
  PTPASS_DB_PORT: port(55432),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('ptpass'),
  TEMPORAL_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),
  TEMPORAL_CLI: z.string().min(1).optional(),
  TEMPORAL_UI_URL: z.url({ message: 'must be a URL such as http://127.0.0.1:8233' }).optional(),
  BUSINESS_TIMEZONE: z
    .string()
    .default('Asia/Seoul')
    .refine(isValidTimeZone, 'must be an IANA time zone such as Asia/Seoul or Europe/Berlin'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  METRICS_PORT: port(9464),
  ADMIN_PORT: port(8300),
  ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  ADMIN_USER: z
    .string()
    .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1-64 letters, digits or . _ @ -')
    .default('admin'),
  ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').max(200).optional(),
  ADMIN_SESSION_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters, e.g. the output of `openssl rand -hex 32`')
    .optional(),
  ADMIN_SESSION_HOURS: z.coerce
    .number({ message: 'must be a number of hours' })
    .positive('must be a positive number of hours')
    .max(720, 'must be at most 720 hours (30 days)')
    .default(8),
  ADMIN_COOKIE_SECURE: z.enum(['true', 'false'], { message: "must be 'true' or 'false'" }).default('false'),
  APPLY_SCHEDULES: z.enum(['true', 'false'], { message: "must be 'true' or 'false'" }).default('false'),
  RUN_RETENTION_DAYS: z.coerce
    .number()
    .int('must be a whole number of days')
    .min(1, 'must be at least 1 day')
    .default(90),
  NO_SHOW_POLICY: z
    .enum(NO_SHOW_POLICIES, { message: "must be 'deduct' or 'keep'" })
    .default(DEFAULT_NO_SHOW_POLICY),
  LATE_CANCEL_HOURS: z.coerce
    .number()
    .min(0, 'must be 0 (no late cancels) or more hours')
    .max(720, 'must be at most 720 hours')
    .default(12),
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce
    .number()
    .positive('must be a positive number of seconds')
    .default(30),
  WORKER_ACTIVITY_SLOTS: wholeNumber(1, 256, 16),
  OPERATOR_ALERT_TO: z.string().trim().min(3, 'must be an address such as ops@studio.example').optional(),
  NOTIFY_CHANNEL: z.enum(['log', 'webhook'], { message: "must be 'log' or 'webhook'" }).default('log'),
  NOTIFY_WEBHOOK_URL: z
    .url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' })
    .optional(),
  NOTIFY_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  NOTIFY_TIMEOUT_MS: wholeNumber(100, 120_000, 5000),
  NOTIFY_CONCURRENCY: wholeNumber(1, 256, 8),
  NOTIFY_MAX_ATTEMPTS: wholeNumber(1, 10, 3),
  NOTIFY_RETRY_BACKOFF_MS: wholeNumber(0, 60_000, 500),
  NOTIFY_LOCALE: z.enum(['ko', 'en'], { message: "must be 'ko' or 'en'" }).default('ko'),
});

export interface Config {
  /** Explicit PostgreSQL URL; when absent the embedded PostgreSQL that `npm start` runs is used. */
  databaseUrl: string | undefined;
  /** Where `npm start` keeps the embedded PostgreSQL's files and the Temporal dev server's SQLite file. */
  dataDir: string;
  /** Port of the embedded PostgreSQL `npm start` runs on 127.0.0.1, where commands find it. */
  dbPort: number;
  /** Explicit Temporal frontend; when absent `npm start` runs a dev server on 127.0.0.1:7233. */
  temporalAddress: string | undefined;
  namespace: string;
  taskQueue: string;
  /** Port of the dev server `npm start` runs, where commands look for Temporal without TEMPORAL_ADDRESS. */
  temporalPort: number;
  temporalUiPort: number;
  temporalCli: string | undefined;
  /** Base URL of the Temporal Web UI, for links to a run. */
  temporalUiUrl: string;
  businessTimeZone: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  metricsPort: number;
  /** The admin web's port; 0 turns it off in `npm start`. */
  adminPort: number;
  adminHost: string;
  adminUser: string;
  /** Unset: `npm start` generates one and prints it once; `ptpass admin` refuses to serve. */
  adminPassword: string | undefined;
  /** HMAC key of session cookies; unset means a random key per process (sessions end on restart). */
  adminSessionSecret: string | undefined;
  adminSessionHours: number;
  /** Mark the session cookie `Secure` (set when the admin web is served over HTTPS). */
  adminCookieSecure: boolean;
  shutdownGraceSeconds: number;
  /** Activities (step partitions, deliveries, bookkeeping) one worker process runs at once. */
  activitySlots: number;
  /** Run records, API idempotency keys and finished imports older than this are pruned by `prune-run-records`. */
  runRetentionDays: number;
  /** Whether worker.ts applies the schedule declaration at start (`npm start` always does). */
  applySchedules: boolean;
  /** deduct-sessions: what a no-show costs when a run does not say (`--param noShow=...`). */
  noShowPolicy: NoShowPolicy;
  /** A booking cancelled less than this many hours before its class is a late cancel and costs the session. */
  lateCancelHours: number;
  notify: NotifyConfig;
  /** Who hears about a failed job run, through the notification channel; nobody when unset. */
  operatorAlertTo: string | undefined;
}

/** How notifications are delivered (README "Notifications"). */
export interface NotifyConfig {
  channel: 'log' | 'webhook';
  /** Set when the channel is `webhook`. */
  webhook: { url: string; secret: string } | undefined;
  /** Per-request timeout of one delivery attempt. */
  timeoutMs: number;
  /** Deliveries in flight at once per step. */
  concurrency: number;
  /** Attempts per notification (network errors, timeouts, 5xx and 429 are retried). */
  maxAttempts: number;
  /** First retry delay; doubled on each further attempt. */
  retryBackoffMs: number;
  locale: 'ko' | 'en';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset": `DATABASE_URL= npm start` should fall back, not fail.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      return `${name} ${issue.message}${describeValue(name, present[name])}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  if (e.NOTIFY_CHANNEL === 'webhook') {
    const missing = (['NOTIFY_WEBHOOK_URL', 'NOTIFY_WEBHOOK_SECRET'] as const).filter((name) => !e[name]);
    if (missing.length) {
      throw new ConfigError(
        `invalid configuration: ${missing.map((name) => `${name} is required when NOTIFY_CHANNEL=webhook`).join('; ')}`,
      );
    }
  }
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: e.PTPASS_DATA_DIR,
    dbPort: e.PTPASS_DB_PORT,
    temporalAddress: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    temporalPort: e.TEMPORAL_PORT,
    temporalUiPort: e.TEMPORAL_UI_PORT,
    temporalCli: e.TEMPORAL_CLI,
    temporalUiUrl: (e.TEMPORAL_UI_URL ?? `http://127.0.0.1:${e.TEMPORAL_UI_PORT}`).replace(/\/$/, ''),
    businessTimeZone: e.BUSINESS_TIMEZONE,
    logLevel: e.LOG_LEVEL,
    metricsPort: e.METRICS_PORT,
    adminPort: e.ADMIN_PORT,
    adminHost: e.ADMIN_HOST,
    adminUser: e.ADMIN_USER,
    adminPassword: e.ADMIN_PASSWORD,
    adminSessionSecret: e.ADMIN_SESSION_SECRET,
    adminSessionHours: e.ADMIN_SESSION_HOURS,
    adminCookieSecure: e.ADMIN_COOKIE_SECURE === 'true',
    shutdownGraceSeconds: e.WORKER_SHUTDOWN_GRACE_SECONDS,
    activitySlots: e.WORKER_ACTIVITY_SLOTS,
    runRetentionDays: e.RUN_RETENTION_DAYS,
    applySchedules: e.APPLY_SCHEDULES === 'true',
    noShowPolicy: e.NO_SHOW_POLICY,
    lateCancelHours: e.LATE_CANCEL_HOURS,
    operatorAlertTo: e.OPERATOR_ALERT_TO,
    notify: {
      channel: e.NOTIFY_CHANNEL,
      webhook:
        e.NOTIFY_WEBHOOK_URL && e.NOTIFY_WEBHOOK_SECRET
          ? { url: e.NOTIFY_WEBHOOK_URL, secret: e.NOTIFY_WEBHOOK_SECRET }
          : undefined,
      timeoutMs: e.NOTIFY_TIMEOUT_MS,
      concurrency: e.NOTIFY_CONCURRENCY,
      maxAttempts: e.NOTIFY_MAX_ATTEMPTS,
      retryBackoffMs: e.NOTIFY_RETRY_BACKOFF_MS,
      locale: e.NOTIFY_LOCALE,
    },
  };
}

/** The URL every process uses for the database: the explicit one, or the embedded server of `npm start`. */
export function resolveDatabaseUrl(config: Config): { url: string; embedded: boolean } {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false };
  return { url: `postgres://postgres@127.0.0.1:${config.dbPort}/ptpass`, embedded: true };
}

export function resolveTemporalAddress(config: Config): string {
  return config.temporalAddress ?? `127.0.0.1:${config.temporalPort}`;
}

const SECRET_VARIABLES = new Set(['ADMIN_PASSWORD', 'ADMIN_SESSION_SECRET', 'NOTIFY_WEBHOOK_SECRET']);

function describeValue(name: string, value: unknown): string {
  if (typeof value !== 'string') return '';
  // Secrets are never echoed, not even in an error.
  if (SECRET_VARIABLES.has(name)) return ` (got ${value.length} characters)`;
  if (name === 'DATABASE_URL' || name === 'NOTIFY_WEBHOOK_URL') return ` (got '${redactUrl(value)}')`;
  return ` (got '${value}')`;
}

export function redactUrl(value: string): string {
  return value.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Link to a workflow run in the Temporal Web UI. */
export function workflowUrl(config: Config, workflowId: string, runId?: string): string {
  const base = `${config.temporalUiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}
