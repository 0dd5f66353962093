import { createServer, type Server } from 'node:http';
import { DefaultLogger, Runtime, type LogLevel as SdkLogLevel } from '@temporalio/worker';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import type { ActivityDeps } from '../activities/index.ts';
import type { Logger, LogLevel } from '../logger.ts';

/**
 * What an operator watches: the Temporal SDK runtime's logs (as our JSON lines) and metrics, plus ptpass's
 * own counters, all on one Prometheus `/metrics` endpoint.
 */

const SDK_LEVEL: Record<LogLevel, SdkLogLevel> = {
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
};

/** Installs the SDK runtime once per process, before any connection: logs to `logger`, metrics on `sdkMetricsPort`. */
export function installRuntime(options: { logger: Logger; level: LogLevel; sdkMetricsPort?: number }): void {
  const sdk = options.logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger(SDK_LEVEL[options.level], (entry) => {
      const { sdkComponent, ...meta } = entry.meta ?? {};
      const fields = { sdkComponent, ...meta };
      if (entry.level === 'ERROR') sdk.error(entry.message, fields);
      else if (entry.level === 'WARN') sdk.warn(entry.message, fields);
      else if (entry.level === 'INFO') sdk.info(entry.message, fields);
      else sdk.debug(entry.message, fields);
    }),
    ...(options.sdkMetricsPort
      ? {
          telemetryOptions: {
            metrics: { prometheus: { bindAddress: `127.0.0.1:${options.sdkMetricsPort}` } },
          },
        }
      : {}),
  });
}

export interface JobMetrics {
  registry: Registry;
  hooks: NonNullable<ActivityDeps['hooks']>;
}

export function createJobMetrics(): JobMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ptpass_process_' });
  const rows = new Counter({
    name: 'ptpass_step_rows_total',
    help: 'Rows handled by job steps, by job, step and kind (read, written, skipped).',
    labelNames: ['job', 'step', 'kind'] as const,
    registers: [registry],
  });
  const chunks = new Counter({
    name: 'ptpass_step_chunks_total',
    help: 'Chunk transactions committed, by job and step.',
    labelNames: ['job', 'step'] as const,
    registers: [registry],
  });
  const runs = new Counter({
    name: 'ptpass_job_runs_total',
    help: 'Finished job runs, by job and outcome (COMPLETED, FAILED).',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  });
  return {
    registry,
    hooks: {
      onChunk({ job, step, read, written, skipped }) {
        rows.inc({ job, step, kind: 'read' }, read);
        rows.inc({ job, step, kind: 'written' }, written);
        rows.inc({ job, step, kind: 'skipped' }, skipped);
        chunks.inc({ job, step });
      },
      onJobFinished({ job, status }) {
        runs.inc({ job, outcome: status });
      },
    },
  };
}

/** Serves GET /metrics: ptpass counters followed by the SDK runtime's own exposition. */
export async function startMetricsServer(options: {
  port: number;
  registry: Registry;
  sdkMetricsPort?: number;
}): Promise<{ server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    void (async () => {
      let body = await options.registry.metrics();
      if (options.sdkMetricsPort) {
        try {
          const sdk = await fetch(`http://127.0.0.1:${options.sdkMetricsPort}/metrics`, {
            signal: AbortSignal.timeout(2000),
          });
          body += `\n# Temporal SDK runtime\n${await sdk.text()}`;
        } catch {
          body += '\n# Temporal SDK runtime metrics unavailable\n';
        }
      }
      res.writeHead(200, { 'content-type': options.registry.contentType }).end(body);
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `METRICS_PORT ${options.port} is in use; set METRICS_PORT to a free port, or 0 to turn metrics off`,
            )
          : err,
      ),
    );
    server.listen(options.port, '0.0.0.0', () => resolve());
  });
  return { server, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
