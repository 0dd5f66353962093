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
  steps: [step('upsert', { skipLimit: IMPORT_SKIP_LIMIT })],
});
