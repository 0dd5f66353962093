import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import type { StagedRecord } from '../db/queries/imports.ts';
import { IMPORT_COLUMNS, type ImportKind } from '../jobs/imports.ts';

/**
 * Reading an import file (README "Imports"): UTF-8 with or without a byte-order mark, CRLF or LF line ends,
 * quoted fields (with commas and line breaks inside), Excel's `sep=;` first line, a comma, semicolon or
 * tab delimiter (whichever the header uses), and header names matched ignoring case, spaces, `_` and `-`.
 * Shared by `ptpass import` and the API upload. Records come out as text; the import job checks them.
 */

/** The file cannot be imported at all (not UTF-8, malformed CSV, wrong columns); one line naming why. */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

export interface ImportFile {
  /** Fields in the header. */
  columnCount: number;
  /** The records after the header, each with the line it starts on. Iterate once. */
  records: AsyncIterable<StagedRecord>;
}

const normaliseName = (name: string) => name.toLowerCase().replace(/[\s_-]/g, '');

/** UTF-8 text with `\n` line ends; the BOM dropped; a fatal error on bytes that are not UTF-8. */
async function* utf8Lines(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let carry = '';
  const normalise = (text: string, final: boolean) => {
    let all = carry + text;
    carry = '';
    // A CR at the end of a piece may be the first half of a CRLF split across two pieces.
    if (!final && all.endsWith('\r')) {
      carry = '\r';
      all = all.slice(0, -1);
    }
    return all.replace(/\r\n?/g, '\n');
  };
  try {
    for await (const piece of source) {
      const text = typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
      if (text) yield normalise(text, false);
    }
    yield normalise(decoder.decode(), true);
  } catch (err) {
    if (err instanceof TypeError && /encoded|decode/i.test(err.message)) {
      throw new ImportFileError('is not UTF-8 text; save it from Excel as "CSV UTF-8 (comma delimited)"');
    }
    throw err;
  }
}

/**
 * Opens an import file of a kind: reads up to the header and checks its columns (so a wrong file is refused
 * before anything is written), then yields the records.
 */
export async function openImportFile(
  kind: ImportKind,
  source: AsyncIterable<Uint8Array | string>,
): Promise<ImportFile> {
  const text = utf8Lines(source)[Symbol.asyncIterator]();
  // Read until the first line is complete: it says the delimiter (`sep=;`, or the header's own).
  let head = '';
  let ended = false;
  while (!head.includes('\n')) {
    const next = await text.next();
    if (next.done) {
      ended = true;
      break;
    }
    head += next.value;
  }
  let lineOffset = 0;
  const firstLine = head.split('\n', 1)[0]!;
  let delimiter: string;
  const sep = /^"?sep=(.)"?,*$/i.exec(firstLine);
  if (sep) {
    delimiter = sep[1]!;
    head = head.slice(firstLine.length + 1);
    lineOffset = 1;
  } else {
    const counts = [',', ';', '\t'].map((d) => [d, firstLine.split(d).length] as const);
    delimiter = counts.reduce((best, c) => (c[1] > best[1] ? c : best))[0];
  }

  const parser = parse({
    delimiter,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
  });
  async function* rest() {
    if (head) yield head;
    if (ended) return;
    for (;;) {
      const next = await text.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const pumping = pipeline(Readable.from(rest()), parser);
  pumping.catch(() => {}); // its error reaches the reader through the parser
  const reader = parser[Symbol.asyncIterator]() as AsyncIterator<{
    record: string[];
    info: { lines: number };
  }>;
  const nextRecord = async () => {
    try {
      return await reader.next();
    } catch (err) {
      throw err instanceof ImportFileError ? err : new ImportFileError(describeCsvError(err, lineOffset));
    }
  };

  const first = await nextRecord();
  if (first.done) throw new ImportFileError('is empty: it needs a header line and rows');
  const header = [...first.value.record];
  while (header.length > 0 && header.at(-1)!.trim() === '') header.pop();
  const columns = IMPORT_COLUMNS[kind];
  const fileIndex = mapHeader(kind, header);
  const columnCount = header.length;

  async function* records(): AsyncGenerator<StagedRecord> {
    for (;;) {
      const next = await nextRecord();
      if (next.done) return;
      const { record, info } = next.value;
      const breaksInside = record.reduce((n, field) => n + (field.match(/\n/g)?.length ?? 0), 0);
      const line = info.lines - breaksInside + lineOffset;
      let fieldCount = record.length;
      if (fieldCount > columnCount && record.slice(columnCount).every((f) => f.trim() === ''))
        fieldCount = columnCount;
      const values = columns.map((_, c) => {
        const at = fileIndex[c]!;
        const value = at < 0 ? '' : (record[at] ?? '').trim();
        if (value.includes('\u0000'))
          throw new ImportFileError(`line ${line}: has a NUL character; is this a CSV file?`);
        return value === '' ? null : value;
      });
      yield { line, fieldCount, values };
    }
  }
  return { columnCount, records: records() };
}

/** For each of the kind's columns, its index in the file's header, or -1 when the file has no such column. */
function mapHeader(kind: ImportKind, header: string[]): number[] {
  const columns = IMPORT_COLUMNS[kind];
  const names = columns.map((c) => c.name).join(', ');
  const byName = new Map<string, number>();
  header.forEach((raw, at) => {
    const name = normaliseName(raw);
    const column = columns.find((c) => normaliseName(c.name) === name);
    if (!column) {
      throw new ImportFileError(
        raw.trim() === ''
          ? `header: column ${at + 1} has no name (${kind} columns: ${names})`
          : `header: unknown column '${raw.trim()}' (${kind} columns: ${names})`,
      );
    }
    if (byName.has(column.name)) throw new ImportFileError(`header: column '${column.name}' is given twice`);
    byName.set(column.name, at);
  });
  const missing = columns.filter((c) => c.required && !byName.has(c.name)).map((c) => c.name);
  if (missing.length) {
    throw new ImportFileError(
      `header: no ${missing.join(', ')} column${missing.length > 1 ? 's' : ''} (${kind} columns: ${names}; ` +
        `required: ${columns
          .filter((c) => c.required)
          .map((c) => c.name)
          .join(', ')})`,
    );
  }
  return columns.map((c) => byName.get(c.name) ?? -1);
}

function describeCsvError(err: unknown, lineOffset: number): string {
  const e = err as { message?: string; lines?: number; code?: string };
  const message = (e.message ?? String(err)).replace(/^Invalid /, 'invalid ').split('\n')[0]!;
  return typeof e.lines === 'number' && !/\bline\b/.test(message)
    ? `line ${e.lines + lineOffset}: ${message}`
    : message;
}
