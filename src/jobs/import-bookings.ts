import { defineJob, step } from './definition.ts';
import { IMPORT_SKIP_LIMIT, importParams } from './imports.ts';

/**
 * `import-bookings` of one staged file: each staged row, in line order, is validated and upserted into
 * `bookings` by external id, for the member with the row's member external id and a pass chosen as README
 * "Imports" says (the row's pass_id, or the member's pass valid at the class time). Bad rows are skipped
 * with their line and reason.
 */
export const importBookingsJob = defineJob({
  name: 'import-bookings',
  workflowType: 'importBookings',
  description: 'Validate and upsert the bookings of a staged CSV file (ptpass import bookings).',
  params: importParams,
  instanceKey: (params) => `import-${params.importId}`,
  // 5,000 rows a chunk: measured against 2,000 and 10,000 (README "Performance"), within the noise of
  // 10,000, and each chunk holds its bookings' locks for half as long.
  // Files of 20,000 rows and more run in line-range partitions (a booking row costs ~25 µs of SQL: 10,000
  // rows a partition is a quarter second each, against tens of milliseconds a partition costs to start).
  steps: [step('upsert', { chunkSize: 5_000, skipLimit: IMPORT_SKIP_LIMIT, rowsPerPartition: 10_000 })],
});
