import {
  finishImport,
  type ImportPageResult,
  importBookingPage,
  importMemberPage,
  stagedLineRange,
} from '../db/queries/imports.ts';
import type { ImportParams } from '../jobs/imports.ts';
import type { ChunkResult, StepHandler } from './step-runner.ts';

/**
 * Steps of the `import-members` and `import-bookings` jobs. Each chunk is one statement over a keyset page of
 * staged rows in line order: it checks every row, upserts the good ones and returns the bad ones with their
 * reasons, which become the chunk's skip records, keyed by line. The rules are the SQL in
 * src/db/queries/imports.ts (per row in JavaScript they cost more than the upsert: README "Performance").
 * README "Imports".
 */

function chunkResult(page: ImportPageResult): ChunkResult {
  return {
    read: page.read,
    written: page.written,
    lastKey: page.lastLine,
    skipped: page.skipped.map((s) => ({ key: String(s.line), reason: s.reason })),
  };
}

const finishStep: StepHandler<ImportParams>['finish'] = (tx, ctx, totals) =>
  finishImport(tx, ctx.params.importId, totals);

/**
 * Partitions split a file by line range. They are independent: a duplicate external id is found among the
 * staged lines before it, whichever partition has them, so no two good rows of a file upsert the same
 * external id; and a row reads nothing another row of the file writes (members by external id, passes, the
 * booking with its own external id).
 */
const keyRange: StepHandler<ImportParams>['keyRange'] = (db, ctx) =>
  ctx ? stagedLineRange(db, ctx.params.importId) : Promise.resolve(null);

export const importMembersSteps: Record<string, StepHandler<ImportParams>> = {
  upsert: {
    async chunk(tx, ctx) {
      return chunkResult(
        await importMemberPage(tx, {
          importId: ctx.params.importId,
          after: ctx.after,
          upTo: ctx.upTo,
          limit: ctx.limit,
        }),
      );
    },
    keyRange,
    finish: finishStep,
  },
};

export const importBookingsSteps = (timeZone: string): Record<string, StepHandler<ImportParams>> => ({
  upsert: {
    async chunk(tx, ctx) {
      return chunkResult(
        await importBookingPage(tx, {
          importId: ctx.params.importId,
          after: ctx.after,
          upTo: ctx.upTo,
          limit: ctx.limit,
          timeZone,
        }),
      );
    },
    keyRange,
    finish: finishStep,
  },
});
