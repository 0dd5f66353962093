import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { findImport } from '../db/queries/imports.ts';
import { bulkPasses, studioClosures } from '../db/schema.ts';
import type { JobName } from '../jobs/index.ts';

/**
 * The rows a job's parameters name — an import, a closure, a bulk pass — must exist before a run of it
 * starts: a run of a missing one would read nothing and complete (an import, a bulk pass) or fail on its
 * first step (a closure), and either way say nothing useful. Checked at launch (`ptpass job run`, the API,
 * the admin web), so the refusal is one line naming the row, and nothing reaches Temporal.
 */

type Check = (db: Db, params: Record<string, unknown>) => Promise<string | undefined>;

const importOfKind =
  (kind: 'members' | 'bookings'): Check =>
  async (db, params) => {
    const id = Number(params.importId);
    const found = await findImport(db, id);
    if (!found) return `no import ${id} (see \`ptpass import\` and GET /imports/${kind}/{id})`;
    if (found.kind !== kind) return `import ${id} is a ${found.kind} import; run import-${found.kind} for it`;
    return undefined;
  };

const CHECKS: Partial<Record<JobName, Check>> = {
  'import-members': importOfKind('members'),
  'import-bookings': importOfKind('bookings'),
  'apply-closure': async (db, params) => {
    const id = Number(params.closureId);
    const [found] = await db
      .select({ id: studioClosures.id })
      .from(studioClosures)
      .where(eq(studioClosures.id, id));
    return found ? undefined : `no closure ${id} (see \`ptpass closures list\`)`;
  },
  'issue-bulk-passes': async (db, params) => {
    if (params.bulkPassId === undefined) return undefined;
    const id = Number(params.bulkPassId);
    const [found] = await db.select({ id: bulkPasses.id }).from(bulkPasses).where(eq(bulkPasses.id, id));
    return found ? undefined : `no bulk pass ${id} (see GET /bulk-passes or the admin web's Bulk passes)`;
  },
};

/** What is missing, in one line, when the parameters name a row that does not exist; else undefined. */
export async function findMissingRow(
  db: Db,
  job: string,
  params: Record<string, unknown>,
): Promise<string | undefined> {
  const problem = await CHECKS[job as JobName]?.(db, params);
  return problem && `${job}: ${problem}`;
}
