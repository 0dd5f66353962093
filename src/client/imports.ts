import { stringify } from 'csv-stringify/sync';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { findImport, listImportRejects, stagedColumns, stageImport } from '../db/queries/imports.ts';
import { imports } from '../db/schema.ts';
import { type ImportKind, importJobName, type JobResult, type RunSettings } from '../jobs/index.ts';
import type { ImportFile } from './import-file.ts';
import { type LaunchDeps, type LaunchOutcome, launchJob } from './launch-job.ts';

/**
 * An import, start to end, for the CLI and the API alike: stage an opened file (src/client/import-file.ts),
 * launch its job with the import id as the only parameter, and report; the rejects as CSV. README "Imports".
 */

export interface ImportRequest {
  kind: ImportKind;
  fileName: string;
  file: ImportFile;
  /** Report what would change, write nothing; the staged rows are removed afterwards. Implies wait. */
  dryRun?: boolean;
  wait?: boolean;
  /** Step settings for the job (chunk size, pause: the bench and the crash test use them). */
  settings?: RunSettings;
}

export interface ImportSummary {
  importId: number;
  kind: ImportKind;
  fileName: string;
  /** Data rows in the file. */
  rows: number;
  /** When the job has finished (--wait, --dry-run): rows written (new or changed), unchanged, rejected. */
  written?: number;
  unchanged?: number;
  rejected?: number;
  /** Rejects of a dry run (a real import's: `ptpass import rejects`). */
  rejects?: Array<{ line: number; reason: string }>;
  launch: LaunchOutcome;
}

export async function importFile(deps: LaunchDeps, request: ImportRequest): Promise<ImportSummary> {
  if (request.dryRun) return dryRunImport(deps, request);
  const { importId, rowCount } = await stageImport(
    deps.db.$client,
    { kind: request.kind, fileName: request.fileName, columnCount: request.file.columnCount },
    request.file.records,
  );
  let launch: LaunchOutcome;
  try {
    launch = await launchJob(deps, {
      job: importJobName(request.kind),
      params: { importId },
      wait: request.wait === true,
      settings: request.settings,
    });
  } catch (err) {
    // Not started (Temporal unreachable): nothing is left behind, and the same upload can be tried again.
    // (With --wait the error may come after the start, from waiting: then the import stays.)
    if (!request.wait && !(await isImportStarted(deps.db, importId)))
      await deps.db.delete(imports).where(eq(imports.id, importId));
    throw err;
  }
  const summary: ImportSummary = {
    importId,
    kind: request.kind,
    fileName: request.fileName,
    rows: rowCount,
    launch,
  };
  return 'result' in launch ? { ...summary, ...counts(launch.result) } : summary;
}

/**
 * A dry run stages the file, runs the job as a dry run (each chunk rolled back), reads its rejects, and
 * deletes the staged rows: nothing is left but the run record.
 */
async function dryRunImport(deps: LaunchDeps, request: ImportRequest): Promise<ImportSummary> {
  const { importId, rowCount } = await stageImport(
    deps.db.$client,
    { kind: request.kind, fileName: request.fileName, columnCount: request.file.columnCount },
    request.file.records,
  );
  try {
    const launch = await launchJob(deps, {
      job: importJobName(request.kind),
      params: { importId },
      dryRun: true,
      wait: true,
      settings: request.settings,
    });
    const result = 'result' in launch ? launch.result : undefined;
    const rejects = result
      ? (await listImportRejects(deps.db, importId, request.kind, { jobRunId: result.jobRunId })).map(
          ({ line, reason }) => ({ line, reason }),
        )
      : [];
    return {
      importId,
      kind: request.kind,
      fileName: request.fileName,
      rows: rowCount,
      ...(result ? counts(result) : {}),
      rejects,
      launch,
    };
  } finally {
    await deps.db.delete(imports).where(eq(imports.id, importId));
  }
}

/** Whether an import's job has begun (its run record exists): then its staged rows must stay. */
async function isImportStarted(db: Db, importId: number): Promise<boolean> {
  const rows = await db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM job_runs WHERE job LIKE 'import-%' AND params->>'importId' = ${String(importId)}`,
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

function counts(result: JobResult) {
  return {
    written: result.written,
    rejected: result.skipped,
    unchanged: result.read - result.written - result.skipped,
  };
}

export class UnknownImportError extends Error {
  override name = 'UnknownImportError';
}

/**
 * The rejected rows of an import as CSV (UTF-8 with a BOM so Excel reads it, CRLF): `line`, `reason`, then
 * the file's columns as staged — fix the rows and import them again. Empty but for the header when none.
 */
export async function importRejectsCsv(db: Db, importId: number): Promise<{ csv: string; rejected: number }> {
  const found = await findImport(db, importId);
  if (!found) throw new UnknownImportError(`no import ${importId}`);
  const rejects = await listImportRejects(db, importId, found.kind);
  const columns = stagedColumns(found.kind);
  const csv = stringify(
    rejects.map((r) => [r.line, r.reason, ...columns.map((c) => r.fields[c] ?? '')]),
    { bom: true, record_delimiter: 'windows', header: true, columns: ['line', 'reason', ...columns] },
  );
  return { csv, rejected: rejects.length };
}
