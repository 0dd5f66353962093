import type { ImportSummary } from '../../client/imports.ts';
import { IMPORT_COLUMNS, type ImportKind } from '../../jobs/imports.ts';
import { type Command, type CommandOutput, optionalString, UsageError } from '../command.ts';

/**
 * `ptpass import members|bookings FILE.csv` and `ptpass import rejects ID` (README "Imports"). The CSV
 * reader, the database and Temporal are loaded inside run(), so `ptpass --help` does not pay for them.
 */

const FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR']);

function importCommand(kind: ImportKind): Command {
  const columns = IMPORT_COLUMNS[kind];
  const width = Math.max(...columns.map((c) => c.name.length));
  return {
    words: ['import', kind],
    args: '<FILE.csv>',
    summary: `Import ${kind} from a CSV file: staged, then validated and upserted by the import-${kind} job.`,
    details: [
      'Columns (header names ignore case, spaces, _ and -; * required):',
      ...columns.map((c) => `  ${c.name.padEnd(width)} ${c.required ? '*' : ' '} ${c.description}`),
      'UTF-8 with or without BOM; comma, semicolon or tab delimited; Excel "CSV UTF-8" files work as saved.',
      `Rows are upserted by external_id: importing the same file again changes nothing. Bad rows are skipped`,
      'with their line and reason: see `ptpass import rejects <import-id>`.',
    ].join('\n'),
    options: {
      'dry-run': {
        type: 'boolean',
        description: 'Report what would change and the rows that would be rejected; write nothing',
      },
      wait: { type: 'boolean', description: 'Wait for the import job and print its counts' },
    },
    async run({ values, positionals }, ctx) {
      // The command framework has checked there is exactly one positional argument (`args`).
      const path = positionals[0]!;
      const { createReadStream } = await import('node:fs');
      const { basename } = await import('node:path');
      const { ImportFileError, openImportFile } = await import('../../client/import-file.ts');
      const { importFile } = await import('../../client/imports.ts');
      const stream = createReadStream(path);
      const fileError = (err: unknown): never => {
        const code = (err as { code?: string }).code;
        if (code && FILE_ERRORS.has(code)) throw new UsageError(`cannot read ${path} (${code})`);
        if (err instanceof ImportFileError) throw new UsageError(`${path}: ${err.message}`);
        throw err;
      };
      try {
        // The header is checked before anything is connected to: a wrong file writes nothing.
        const file = await openImportFile(kind, stream).catch(fileError);
        const [client, db] = await Promise.all([ctx.temporal(), ctx.db()]);
        const dryRun = values['dry-run'] === true;
        if (dryRun || values.wait === true) ctx.progress(`import ${kind}: staging ${path} and waiting...`);
        const summary = await importFile(
          { client, db, taskQueue: ctx.config.taskQueue },
          { kind, fileName: basename(path), file, dryRun, wait: values.wait === true },
        ).catch(fileError);
        return describeImport(summary, dryRun);
      } finally {
        stream.destroy();
      }
    },
  };
}

const SHOWN_REJECTS = 50;

export function describeImport(summary: ImportSummary, dryRun: boolean): CommandOutput {
  const { launch } = summary;
  const name = `${summary.kind} from ${summary.fileName}`;
  const lines: string[] = [];
  if (dryRun) {
    lines.push(
      `import ${name} (dry run, nothing written): ${summary.rows} rows — ${summary.written} would be written (new or changed), ${summary.unchanged} unchanged, ${summary.rejected} rejected`,
    );
    const rejects = summary.rejects ?? [];
    for (const r of rejects.slice(0, SHOWN_REJECTS)) lines.push(`  line ${r.line}: ${r.reason}`);
    if (rejects.length > SHOWN_REJECTS) lines.push(`  ... and ${rejects.length - SHOWN_REJECTS} more`);
  } else if (summary.written !== undefined) {
    lines.push(
      `import ${summary.importId} (${name}): ${summary.rows} rows — ${summary.written} written (new or changed), ${summary.unchanged} unchanged, ${summary.rejected} rejected`,
    );
    if (summary.rejected) lines.push(`  rejected rows: ptpass import rejects ${summary.importId}`);
  } else {
    lines.push(`import ${summary.importId} (${name}): ${summary.rows} rows staged; the import job started`);
    lines.push(`  follow it: ptpass runs show ${launch.runId}`);
  }
  lines.push(`  workflow ${launch.workflowId}  run ${launch.runId}`);
  const { launch: _launch, ...rest } = summary;
  return {
    json: { ...rest, workflowId: launch.workflowId, runId: launch.runId, dryRun },
    text: lines.join('\n'),
  };
}

export const importRejectsCommand: Command = {
  words: ['import', 'rejects'],
  args: '<import-id>',
  summary: 'The rows an import rejected, as CSV: line, reason, then the fields as in the file.',
  details:
    'UTF-8 with a BOM and CRLF line ends, so Excel opens it as it is. Fix the rows and import them again.',
  options: {
    out: { type: 'string', placeholder: 'FILE', description: 'Write the CSV to FILE instead of stdout' },
  },
  async run({ values, positionals }, ctx) {
    // The command framework has checked there is exactly one positional argument (`args`).
    const id = positionals[0]!;
    if (!/^[1-9]\d{0,14}$/.test(id)) throw new UsageError(`'${id}' is not an import id (a whole number)`);
    const out = optionalString(values, 'out');
    const { importRejectsCsv, UnknownImportError } = await import('../../client/imports.ts');
    const db = await ctx.db();
    const found = await importRejectsCsv(db, Number(id)).catch((err: unknown) => {
      if (err instanceof UnknownImportError) throw new UsageError(err.message);
      throw err;
    });
    if (out) {
      const { writeOutFile } = await import('../out-file.ts');
      await writeOutFile(out, found.csv);
      return {
        json: { importId: Number(id), rejected: found.rejected, out },
        text: `${found.rejected} rejected rows of import ${id} written to ${out}`,
      };
    }
    if (values.json === true)
      return { json: { importId: Number(id), rejected: found.rejected, csv: found.csv }, text: '' };
    ctx.stdout(found.csv);
    return undefined;
  },
};

export const importCommands: Command[] = [
  importCommand('members'),
  importCommand('bookings'),
  importRejectsCommand,
];
