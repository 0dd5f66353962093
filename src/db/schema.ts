import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  pgEnum,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * ptpass tables. Invariants that must hold whatever code writes the rows are CHECK constraints here,
 * not application code: the database rejects a negative remaining count or an end before the start.
 * `modified_at` is set explicitly by every write (set-based batch updates included).
 */

const id = () => bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity();
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const timestamps = {
  createdAt: ts('created_at').notNull().defaultNow(),
  modifiedAt: ts('modified_at').notNull().defaultNow(),
};

export const userStatus = pgEnum('user_status', ['ACTIVE', 'INACTIVE']);
export const passStatus = pgEnum('pass_status', ['READY', 'PROGRESSED', 'EXPIRED']);
export const bulkPassStatus = pgEnum('bulk_pass_status', ['READY', 'COMPLETED']);
export const bookingStatus = pgEnum('booking_status', ['READY', 'PROGRESSED', 'COMPLETED', 'CANCELLED']);
export const notificationStatus = pgEnum('notification_status', ['PENDING', 'SENT', 'FAILED']);
/** STOPPED: stopped by an operator (`ptpass runs stop`); restartable like FAILED. */
export const runStatus = pgEnum('run_status', ['RUNNING', 'COMPLETED', 'FAILED', 'STOPPED']);
export const importKind = pgEnum('import_kind', ['members', 'bookings']);
export const importStatus = pgEnum('import_status', ['STAGED', 'IMPORTED']);

export const users = pgTable('users', {
  id: id(),
  name: text('name').notNull(),
  phone: text('phone'),
  status: userStatus('status').notNull().default('ACTIVE'),
  /** The member's id in the studio's other systems; what `ptpass import members` upserts by. */
  externalId: text('external_id').unique('users_external_id_unique'),
  meta: jsonb('meta').$type<Record<string, unknown>>().notNull().default({}),
  ...timestamps,
});

export const userGroups = pgTable('user_groups', {
  id: id(),
  name: text('name').notNull(),
  ...timestamps,
});

export const userGroupMembers = pgTable(
  'user_group_members',
  {
    groupId: bigint('group_id', { mode: 'number' })
      .notNull()
      .references(() => userGroups.id, { onDelete: 'cascade' }),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    ...timestamps,
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('user_group_members_user_idx').on(t.userId)],
);

export const packages = pgTable(
  'packages',
  {
    id: id(),
    name: text('name').notNull(),
    /** Sessions a pass of this package starts with; null means unlimited. */
    sessionCount: integer('session_count'),
    /** Days a pass of this package lasts; null means unlimited. */
    periodDays: integer('period_days'),
    ...timestamps,
  },
  (t) => [
    check('packages_session_count_positive', sql`${t.sessionCount} IS NULL OR ${t.sessionCount} > 0`),
    check('packages_period_days_positive', sql`${t.periodDays} IS NULL OR ${t.periodDays} > 0`),
  ],
);

export const bulkPasses = pgTable(
  'bulk_passes',
  {
    id: id(),
    packageId: bigint('package_id', { mode: 'number' })
      .notNull()
      .references(() => packages.id),
    groupId: bigint('group_id', { mode: 'number' })
      .notNull()
      .references(() => userGroups.id),
    status: bulkPassStatus('status').notNull().default('READY'),
    /** Sessions per issued pass; null takes the package's count. */
    count: integer('count'),
    /** When the passes begin; also when they are issued unless `issue_at` says otherwise. */
    startedAt: ts('started_at').notNull(),
    /** Null derives each pass's end from the package period (unlimited when the package has none). */
    endedAt: ts('ended_at'),
    /** When to issue, if not at `started_at` (a grant issued now for passes starting next week). */
    issueAt: ts('issue_at'),
    issuedCount: integer('issued_count').notNull().default(0),
    /** Members who got no pass because they were INACTIVE when the bulk pass was issued. */
    skippedCount: integer('skipped_count').notNull().default(0),
    completedAt: ts('completed_at'),
    ...timestamps,
  },
  (t) => [
    check('bulk_passes_count_positive', sql`${t.count} IS NULL OR ${t.count} > 0`),
    check('bulk_passes_end_after_start', sql`${t.endedAt} IS NULL OR ${t.endedAt} > ${t.startedAt}`),
    check('bulk_passes_issued_count_non_negative', sql`${t.issuedCount} >= 0`),
    check('bulk_passes_skipped_count_non_negative', sql`${t.skippedCount} >= 0`),
    index('bulk_passes_due_idx').on(t.status, t.startedAt, t.id),
  ],
);

export const passes = pgTable(
  'passes',
  {
    id: id(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id),
    packageId: bigint('package_id', { mode: 'number' })
      .notNull()
      .references(() => packages.id),
    bulkPassId: bigint('bulk_pass_id', { mode: 'number' }).references(() => bulkPasses.id),
    status: passStatus('status').notNull().default('READY'),
    /** Sessions left; null means unlimited. */
    remainingCount: integer('remaining_count'),
    startedAt: ts('started_at').notNull(),
    /** Null means the pass never runs out by time. */
    endedAt: ts('ended_at'),
    expiredAt: ts('expired_at'),
    ...timestamps,
  },
  (t) => [
    check(
      'passes_remaining_count_non_negative',
      sql`${t.remainingCount} IS NULL OR ${t.remainingCount} >= 0`,
    ),
    check('passes_end_after_start', sql`${t.endedAt} IS NULL OR ${t.endedAt} > ${t.startedAt}`),
    check('passes_expired_has_time', sql`${t.status} <> 'EXPIRED' OR ${t.expiredAt} IS NOT NULL`),
    unique('passes_bulk_pass_user_unique').on(t.bulkPassId, t.userId),
    // Keyset scans of the lifecycle steps walk one status in id order.
    index('passes_status_id_idx').on(t.status, t.id),
    // The due rows of the lifecycle steps, so a run every 5 minutes that finds little to do reads only
    // index entries of due passes (README "pass-lifecycle").
    index('passes_ready_start_idx').on(t.startedAt, t.id).where(sql`${t.status} = 'READY'`),
    index('passes_progressed_end_idx').on(t.endedAt, t.id).where(sql`${t.status} = 'PROGRESSED'`),
    index('passes_progressed_used_up_idx')
      .on(t.id)
      .where(sql`${t.status} = 'PROGRESSED' AND ${t.remainingCount} = 0`),
    index('passes_user_idx').on(t.userId),
  ],
);

/**
 * A hold (freeze) of one pass over business days `starts_on..ends_on` (inclusive, BUSINESS_TIMEZONE).
 * Adding it moves the pass's end later by the held days; the pass cannot be booked on a held day.
 * Ending it early on day D (`ended_early_on`) makes D the first day the pass is usable again and moves the
 * end back by the unused days. Rules: src/db/queries/holds.ts.
 */
export const passHolds = pgTable(
  'pass_holds',
  {
    id: id(),
    passId: bigint('pass_id', { mode: 'number' })
      .notNull()
      .references(() => passes.id, { onDelete: 'cascade' }),
    startsOn: date('starts_on', { mode: 'string' }).notNull(),
    endsOn: date('ends_on', { mode: 'string' }).notNull(),
    /** Days the pass's end was moved by (the held days not already covered by a studio closure). */
    extendedDays: integer('extended_days').notNull(),
    reason: text('reason').notNull(),
    createdBy: text('created_by').notNull(),
    /** The first day the pass is usable again when the hold was ended before `ends_on`. */
    endedEarlyOn: date('ended_early_on', { mode: 'string' }),
    ...timestamps,
  },
  (t) => [
    check('pass_holds_range', sql`${t.endsOn} >= ${t.startsOn}`),
    check('pass_holds_extended_days_non_negative', sql`${t.extendedDays} >= 0`),
    check(
      'pass_holds_ended_early_within',
      sql`${t.endedEarlyOn} IS NULL OR (${t.endedEarlyOn} >= ${t.startsOn} AND ${t.endedEarlyOn} <= ${t.endsOn})`,
    ),
    index('pass_holds_pass_idx').on(t.passId, t.startsOn),
  ],
);

/** The studio is closed on business days `starts_on..ends_on`; `apply-closure` extends the passes. */
export const studioClosures = pgTable(
  'studio_closures',
  {
    id: id(),
    startsOn: date('starts_on', { mode: 'string' }).notNull(),
    endsOn: date('ends_on', { mode: 'string' }).notNull(),
    reason: text('reason').notNull(),
    createdBy: text('created_by').notNull(),
    ...timestamps,
  },
  (t) => [check('studio_closures_range', sql`${t.endsOn} >= ${t.startsOn}`)],
);

/**
 * One row per (closure, pass) the closure extended, inserted in the same statement as the end-date update:
 * a re-run or a retried chunk finds the row and extends nothing twice.
 */
export const closureExtensions = pgTable(
  'closure_extensions',
  {
    closureId: bigint('closure_id', { mode: 'number' })
      .notNull()
      .references(() => studioClosures.id, { onDelete: 'cascade' }),
    passId: bigint('pass_id', { mode: 'number' })
      .notNull()
      .references(() => passes.id, { onDelete: 'cascade' }),
    days: integer('days').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.closureId, t.passId] }),
    index('closure_extensions_pass_idx').on(t.passId),
    check('closure_extensions_days_positive', sql`${t.days} > 0`),
  ],
);

export const bookings = pgTable(
  'bookings',
  {
    id: id(),
    /** Null when the pass was deleted: deduction skips such a booking and records why. */
    passId: bigint('pass_id', { mode: 'number' }).references(() => passes.id, { onDelete: 'set null' }),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id),
    status: bookingStatus('status').notNull().default('READY'),
    usedPass: boolean('used_pass').notNull().default(false),
    attended: boolean('attended').notNull().default(false),
    startedAt: ts('started_at').notNull(),
    endedAt: ts('ended_at').notNull(),
    cancelledAt: ts('cancelled_at'),
    /** The booking's id in the studio's other systems; what `ptpass import bookings` upserts by. */
    externalId: text('external_id').unique('bookings_external_id_unique'),
    /**
     * Cancelled inside LATE_CANCEL_HOURS of the start: the booking stays CANCELLED but still costs its
     * session, as a no-show does under the `deduct` policy (deduct-sessions deducts it).
     */
    lateCancel: boolean('late_cancel').notNull().default(false),
    ...timestamps,
  },
  (t) => [
    check('bookings_end_after_start', sql`${t.endedAt} > ${t.startedAt}`),
    check('bookings_cancelled_has_time', sql`${t.status} <> 'CANCELLED' OR ${t.cancelledAt} IS NOT NULL`),
    check(
      'bookings_late_cancel_is_cancelled',
      sql`NOT ${t.lateCancel} OR ${t.status} IN ('CANCELLED', 'COMPLETED')`,
    ),
    index('bookings_status_started_idx').on(t.status, t.startedAt),
    // The bookings that may still owe a session (a late cancel is CANCELLED and owes one): what every
    // deduct-sessions page walks in ID order, so a run reads them and not the whole booking history.
    index('bookings_undeducted_idx')
      .on(t.id)
      .where(sql`${t.usedPass} = false AND (${t.status} <> 'CANCELLED' OR ${t.lateCancel})`),
    index('bookings_pass_idx').on(t.passId),
    index('bookings_started_idx').on(t.startedAt),
  ],
);

export const notifications = pgTable(
  'notifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** What happened: 'class-reminder', 'pass-expiry', 'job-failed', ... */
    event: text('event').notNull(),
    /** Null for operator alerts. */
    userId: bigint('user_id', { mode: 'number' }).references(() => users.id),
    /** One row per (event, subject): a re-run or retried chunk can never create a second one. */
    dedupeKey: text('dedupe_key').notNull().unique(),
    channel: text('channel').notNull(),
    status: notificationStatus('status').notNull().default('PENDING'),
    /** IDs the template needs (booking, pass); never the message itself. */
    subject: jsonb('subject').$type<Record<string, string | number>>().notNull().default({}),
    /** Rendered at send time from the database; kept for the record. */
    message: text('message'),
    /** Not sent before this instant (quiet hours). */
    dueAt: ts('due_at').notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    sentAt: ts('sent_at'),
    ...timestamps,
  },
  (t) => [
    check('notifications_attempts_non_negative', sql`${t.attempts} >= 0`),
    // The outbox's PENDING rows in ID order: a delivery page walks it from its keyset cursor (due_at
    // filtered in the index) and stops after the page, whatever the statistics say. An outbox is mostly
    // SENT rows, so the statistics always find PENDING rare; on (due_at, id) a burst of 50,000 due had
    // every page read and sort its partition's whole pending set (README "Performance").
    index('notifications_pending_idx').on(t.id, t.dueAt).where(sql`${t.status} = 'PENDING'`),
  ],
);

export const statistics = pgTable(
  'statistics',
  {
    id: id(),
    /** Business day in BUSINESS_TIMEZONE. */
    day: date('day', { mode: 'string' }).notNull(),
    /** Null: the studio's totals for the day; otherwise the figures of one package (README "Statistics"). */
    packageId: bigint('package_id', { mode: 'number' }).references(() => packages.id, {
      onDelete: 'cascade',
    }),
    bookings: integer('bookings').notNull().default(0),
    attended: integer('attended').notNull().default(0),
    noShows: integer('no_shows').notNull().default(0),
    cancelled: integer('cancelled').notNull().default(0),
    sessionsDeducted: integer('sessions_deducted').notNull().default(0),
    passesIssued: integer('passes_issued').notNull().default(0),
    passesExpired: integer('passes_expired').notNull().default(0),
    activePasses: integer('active_passes').notNull().default(0),
    /** Session-limited passes whose end (end date, or expiry if earlier) falls on the day. */
    endingPasses: integer('ending_passes').notNull().default(0),
    /** Sessions those passes were sold with; the utilisation denominator. */
    endingSessionsSold: integer('ending_sessions_sold').notNull().default(0),
    /** Sessions those passes used (sold minus remaining); the utilisation numerator. */
    endingSessionsUsed: integer('ending_sessions_used').notNull().default(0),
    ...timestamps,
  },
  (t) => [
    // One row per (day, package), the totals row (package null) included: re-runs upsert, never add.
    unique('statistics_day_package_unique').on(t.day, t.packageId).nullsNotDistinct(),
    check(
      'statistics_counts_non_negative',
      sql`${t.bookings} >= 0 AND ${t.attended} >= 0 AND ${t.noShows} >= 0 AND ${t.cancelled} >= 0
        AND ${t.sessionsDeducted} >= 0 AND ${t.passesIssued} >= 0 AND ${t.passesExpired} >= 0
        AND ${t.activePasses} >= 0 AND ${t.endingPasses} >= 0 AND ${t.endingSessionsSold} >= 0
        AND ${t.endingSessionsUsed} >= 0`,
    ),
    check('statistics_used_within_sold', sql`${t.endingSessionsUsed} <= ${t.endingSessionsSold}`),
  ],
);

export const jobRuns = pgTable(
  'job_runs',
  {
    /** The Temporal run ID of the workflow execution that this record describes. */
    id: uuid('id').primaryKey(),
    workflowId: text('workflow_id').notNull(),
    job: text('job').notNull(),
    /** The job's logical time ("as of"). */
    asOf: ts('as_of').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    /** The run settings it was launched with (chunk size, partitions, heartbeat timeout, attempts). */
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    dryRun: boolean('dry_run').notNull().default(false),
    status: runStatus('status').notNull().default('RUNNING'),
    readCount: bigint('read_count', { mode: 'number' }).notNull().default(0),
    writeCount: bigint('write_count', { mode: 'number' }).notNull().default(0),
    skipCount: bigint('skip_count', { mode: 'number' }).notNull().default(0),
    /** The workflow's result, so a re-launch of a completed instance can return it. */
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: text('error'),
    startedAt: ts('started_at').notNull().defaultNow(),
    endedAt: ts('ended_at'),
    ...timestamps,
  },
  (t) => [
    index('job_runs_job_started_idx').on(t.job, t.startedAt),
    index('job_runs_workflow_idx').on(t.workflowId, t.startedAt),
    index('job_runs_running_idx').on(t.startedAt).where(sql`${t.status} = 'RUNNING'`),
  ],
);

/** Step leases: every claim of a step takes the next value, and the newest claim owns the step. */
export const stepRunLease = pgSequence('step_run_lease');

export const stepRuns = pgTable(
  'step_runs',
  {
    id: id(),
    jobRunId: uuid('job_run_id')
      .notNull()
      .references(() => jobRuns.id, { onDelete: 'cascade' }),
    step: text('step').notNull(),
    /** Key-range partition of a step run in parallel; 0 for an unpartitioned step. */
    partition: integer('partition').notNull().default(0),
    status: runStatus('status').notNull().default('RUNNING'),
    readCount: bigint('read_count', { mode: 'number' }).notNull().default(0),
    writeCount: bigint('write_count', { mode: 'number' }).notNull().default(0),
    skipCount: bigint('skip_count', { mode: 'number' }).notNull().default(0),
    chunks: integer('chunks').notNull().default(0),
    /** Last committed key; a retried attempt resumes after it. */
    checkpoint: text('checkpoint'),
    /** The activity attempt that last claimed the step: informative only (Resets restart it at 1). */
    attempt: integer('attempt').notNull().default(1),
    /**
     * The lease of the claim that owns the step, from `step_run_lease`: every chunk transaction compares
     * it, so the newest claim wins at once and an older attempt still running stops at its next chunk.
     */
    lease: bigint('lease', { mode: 'number' }).notNull().default(sql`nextval('step_run_lease')`),
    /** The partition's key range (after, upTo]; a restart reuses it so checkpoints stay meaningful. */
    rangeAfter: text('range_after'),
    rangeUpTo: text('range_up_to'),
    error: text('error'),
    startedAt: ts('started_at').notNull().defaultNow(),
    endedAt: ts('ended_at'),
    ...timestamps,
  },
  (t) => [
    unique('step_runs_job_step_partition_unique').on(t.jobRunId, t.step, t.partition),
    check(
      'step_runs_counts_non_negative',
      sql`${t.readCount} >= 0 AND ${t.writeCount} >= 0 AND ${t.skipCount} >= 0`,
    ),
  ],
);

export const stepSkips = pgTable(
  'step_skips',
  {
    stepRunId: bigint('step_run_id', { mode: 'number' })
      .notNull()
      .references(() => stepRuns.id, { onDelete: 'cascade' }),
    itemKey: text('item_key').notNull(),
    reason: text('reason').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.stepRunId, t.itemKey] }),
    // Whether an earlier run already skipped an item (the skip limit counts only new ones).
    index('step_skips_item_idx').on(t.itemKey),
  ],
);

/**
 * One uploaded CSV file (README "Imports"): its rows are staged as text in `import_member_rows` or
 * `import_booking_rows` by COPY, then the import-members / import-bookings job validates and upserts them.
 */
export const imports = pgTable(
  'imports',
  {
    id: id(),
    kind: importKind('kind').notNull(),
    fileName: text('file_name').notNull(),
    status: importStatus('status').notNull().default('STAGED'),
    /** Fields in the file's header; a record with another number of fields is rejected. */
    columnCount: integer('column_count').notNull(),
    /** Data rows staged from the file (the header and blank lines are not rows). */
    rowCount: integer('row_count').notNull().default(0),
    /** Set when the import job finishes: rows written (new or changed), and rows rejected. */
    writtenCount: integer('written_count'),
    rejectedCount: integer('rejected_count'),
    importedAt: ts('imported_at'),
    ...timestamps,
  },
  (t) => [
    check('imports_row_count_non_negative', sql`${t.rowCount} >= 0`),
    index('imports_created_idx').on(t.createdAt),
  ],
);

/** Staged rows carry the file's fields as text, untouched: the job validates them and names each problem. */
const stagedRow = {
  importId: bigint('import_id', { mode: 'number' })
    .notNull()
    .references(() => imports.id, { onDelete: 'cascade' }),
  /** The line of the file the record starts on (1 is the header). */
  line: integer('line').notNull(),
  /** Fields in the record (trailing empty ones not counted past the header's); see `imports.column_count`. */
  fieldCount: integer('field_count').notNull(),
  externalId: text('external_id'),
};

export const importMemberRows = pgTable(
  'import_member_rows',
  {
    ...stagedRow,
    name: text('name'),
    phone: text('phone'),
    status: text('status'),
  },
  (t) => [
    primaryKey({ columns: [t.importId, t.line] }),
    // A later line with an external id an earlier line of the same file has is rejected.
    index('import_member_rows_external_idx').on(t.importId, t.externalId, t.line),
  ],
);

export const importBookingRows = pgTable(
  'import_booking_rows',
  {
    ...stagedRow,
    memberExternalId: text('member_external_id'),
    passId: text('pass_id'),
    startsAt: text('starts_at'),
    endsAt: text('ends_at'),
    status: text('status'),
    attended: text('attended'),
    usedPass: text('used_pass'),
    cancelledAt: text('cancelled_at'),
  },
  (t) => [
    primaryKey({ columns: [t.importId, t.line] }),
    index('import_booking_rows_external_idx').on(t.importId, t.externalId, t.line),
  ],
);

export const apiTokenScope = pgEnum('api_token_scope', ['read', 'write']);

/** Bearer tokens of the HTTP API. Only a SHA-256 of the token is kept; the token is shown once. */
export const apiTokens = pgTable('api_tokens', {
  id: id(),
  name: text('name').notNull(),
  scope: apiTokenScope('scope').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  revokedAt: ts('revoked_at'),
  lastUsedAt: ts('last_used_at'),
  ...timestamps,
});

/**
 * One row per API write: which token made it, on which resource. Written in the write's transaction, so
 * a write without its record (or a record without its write) cannot exist.
 */
export const apiWrites = pgTable(
  'api_writes',
  {
    id: id(),
    tokenId: bigint('token_id', { mode: 'number' })
      .notNull()
      .references(() => apiTokens.id),
    method: text('method').notNull(),
    path: text('path').notNull(),
    /** The table written and the row's id: 'users', 'bookings', ... */
    resource: text('resource').notNull(),
    resourceId: text('resource_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('api_writes_resource_idx').on(t.resource, t.resourceId)],
);

/**
 * `Idempotency-Key` of API POSTs, per token: the request's hash and the first response, stored in the
 * write's transaction. A repeat with the same body gets the stored response; another body is refused.
 */
export const apiIdempotencyKeys = pgTable(
  'api_idempotency_keys',
  {
    tokenId: bigint('token_id', { mode: 'number' })
      .notNull()
      .references(() => apiTokens.id),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: integer('status').notNull(),
    response: jsonb('response').$type<unknown>().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.key] })],
);
