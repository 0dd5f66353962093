import { defineJob, step } from './definition.ts';
import { IMPORT_SKIP_LIMIT, importParams } from './imports.ts';

/**
 * `import-members` of one staged file: each staged row, in line order, is validated and upserted into
 * `users` by external id — a new member is inserted, a changed one updated, an unchanged one left alone
 * (its `modified_at` too). Bad rows are skipped with their line and reason. README "Imports".
 */
export const importMembersJob = defineJob({
  name: 'import-members',
  workflowType: 'importMembers',
  description: 'Validate and upsert the members of a staged CSV file (ptpass import members).',
  params: importParams,
  instanceKey: (params) => `import-${params.importId}`,
  // 10,000 rows a chunk: a member row costs a few microseconds of SQL, so each chunk's own cost (its
  // transaction, step lock, checkpoint) weighs; measured against 2,000 and 5,000 (README "Performance").
  // Files of 50,000 rows and more run in line-range partitions (a member row costs ~7 µs of SQL).
  steps: [step('upsert', { chunkSize: 10_000, skipLimit: IMPORT_SKIP_LIMIT, rowsPerPartition: 25_000 })],
});
