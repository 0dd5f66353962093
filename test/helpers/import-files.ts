import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.ts';
import { listImportRejects } from '../../src/db/queries/imports.ts';
import type { ImportKind } from '../../src/jobs/index.ts';

/**
 * Import files and what an import leaves, for tests that compare an interrupted import with a clean one:
 * the same file under two external-id prefixes, then row by row and reject by reject, prefix stripped.
 */

/**
 * A members file of `count` rows, some bad (every 97th has no name); `repeats`: the last lines repeat the
 * external ids of the first ones (rejected: the first line is the one imported).
 */
export function membersCsv(prefix: string, count: number, repeats = 0): string {
  const lines = ['external_id,name,phone,status'];
  for (let i = 1; i <= count; i++) {
    const name = i % 97 === 0 ? '' : `회원 ${i}`;
    lines.push(
      `${prefix}m${i},${name},010-${String(i).padStart(4, '0')}-0000,${i % 7 === 0 ? 'INACTIVE' : 'ACTIVE'}`,
    );
  }
  for (let i = 1; i <= repeats; i++) lines.push(`${prefix}m${i},someone else ${i},,ACTIVE`);
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

/** The members a prefix's import left, without the prefix. */
export function importedMembers(db: Db, prefix: string) {
  return db.execute<Record<string, unknown>>(sql`
    SELECT substr(external_id, ${prefix.length + 1}) AS id, name, phone, status FROM users
    WHERE external_id LIKE ${`${prefix}%`} ORDER BY 1`);
}

/** An import's rejects as [line, reason], the prefix taken out of the reasons. */
export async function importRejects(db: Db, importId: number, kind: ImportKind, prefix: string) {
  return (await listImportRejects(db, importId, kind)).map((r) => [r.line, r.reason.replaceAll(prefix, '')]);
}

/** What the import's own row says once its job is done (the counts `ptpass import` and the API show). */
export async function importCounts(db: Db, importId: number) {
  const [row] = await db.execute<{ status: string; written: number; rejected: number }>(sql`
    SELECT status, written_count AS written, rejected_count AS rejected FROM imports WHERE id = ${importId}`);
  return row;
}
