import { z } from 'zod';

/**
 * What the two import jobs share: the kinds of file, their columns, the job parameter (the import id only:
 * file contents and personal data never enter a Temporal payload) and the skip limit. README "Imports".
 */

export const IMPORT_KINDS = ['members', 'bookings'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

export interface ImportColumn {
  /** The column's name in the header (matched ignoring case, spaces, `_` and `-`). */
  name: string;
  required: boolean;
  description: string;
}

export const IMPORT_COLUMNS = {
  members: [
    { name: 'external_id', required: true, description: "the member's id in your other system" },
    { name: 'name', required: true, description: 'full name' },
    { name: 'phone', required: false, description: 'phone number; empty for none' },
    { name: 'status', required: false, description: 'ACTIVE (default) or INACTIVE' },
  ],
  bookings: [
    { name: 'external_id', required: true, description: "the booking's id in your other system" },
    { name: 'member_external_id', required: true, description: 'external_id of an imported member' },
    {
      name: 'pass_id',
      required: false,
      description: "the ptpass pass to book with; empty: the member's pass valid at starts_at",
    },
    { name: 'starts_at', required: true, description: 'class start, ISO-8601; no offset: BUSINESS_TIMEZONE' },
    { name: 'ends_at', required: true, description: 'class end, after starts_at' },
    { name: 'status', required: false, description: 'READY (default), PROGRESSED, COMPLETED or CANCELLED' },
    { name: 'attended', required: false, description: 'true/false, yes/no, 1/0; default false' },
    { name: 'used_pass', required: false, description: 'true when the old system already took the session' },
    { name: 'cancelled_at', required: false, description: 'when it was cancelled; required for CANCELLED' },
  ],
} as const satisfies Record<ImportKind, readonly ImportColumn[]>;

export const importParams = z
  .object({
    /** The `imports` row whose staged rows the job imports. */
    importId: z.coerce.number().int().positive(),
  })
  .strict();
export type ImportParams = z.output<typeof importParams>;

/**
 * Rejected rows are what an import reports, not a reason to stop it: a file with many bad rows still imports
 * every good one, and the rejects are listed by line (`ptpass import rejects`). A file that is not a file of
 * this kind at all (wrong or missing columns) is refused before anything is staged.
 */
export const IMPORT_SKIP_LIMIT = Number.MAX_SAFE_INTEGER;

/** The job that imports a kind of file. */
export const importJobName = (kind: ImportKind) => `import-${kind}` as const;
