import {
  finishImport,
  type ImportPageResult,
  importBookingPage,
  importMemberPage,
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

const finishStep: StepHandler<ImportParams>['finish'] = (db, ctx, totals) =>
  finishImport(db, ctx.params.importId, totals);

export const importMembersSteps: Record<string, StepHandler<ImportParams>> = {
  upsert: {
    async chunk(tx, ctx) {
      return chunkResult(
        await importMemberPage(tx, { importId: ctx.params.importId, after: ctx.after, limit: ctx.limit }),
      );
    },
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
          limit: ctx.limit,
          timeZone,
        }),
      );
    },
    finish: finishStep,
  },
});
