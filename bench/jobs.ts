import type postgres from 'postgres';
import type { RunSettings } from '../src/jobs/index.ts';
import { classRemindersBench } from './jobs/class-reminders.ts';
import { deductSessionsBench } from './jobs/deduct-sessions.ts';
import { importBookingsBench, importMembersBench } from './jobs/imports.ts';
import { issueBulkPassesBench } from './jobs/issue-bulk-passes.ts';
import { statisticsBench } from './jobs/statistics.ts';

/**
 * What the benchmark measures for each job: how to seed it, the "limit" arm (the same change as the
 * fewest set-based statements), the "reference" arm (cursor read, one UPDATE per item, commit every 5 —
 * the course project's approach), and a fingerprint of the rows the job changes.
 */

export type Sql = postgres.Sql;

export interface BenchJob {
  job: string;
  /** What one item is, for the output ("items" when absent). */
  unit?: string;
  /**
   * Tables the job reads or writes, referencing tables first (restored in reverse order); emptied before
   * the seed and restored from a snapshot before each arm.
   */
  tables: string[];
  seed(sql: Sql, scale: number, asOf: Date): Promise<{ items: number }>;
  /**
   * The job's change as the fewest set-based statements, on `sql` (or its own session on `url`). With
   * `upTo`, only the items with key <= upTo (the reference's sample), so a sample can be compared even
   * where items share rows (bookings of one pass).
   */
  limit(sql: Sql, asOf: Date, options: { url: string; upTo?: number | undefined }): Promise<number>;
  /**
   * The "limit-parallel" arm, for jobs ptpass runs in key-range partitions: the limit's set-based statements
   * restricted to one key range (after, upTo], run for every partition at once, each on its own session;
   * then `finish` once (what ptpass does in a later, unpartitioned step).
   */
  limitParallel?: {
    keyRange(sql: Sql): Promise<{ min: string; max: string } | null>;
    range(sql: Sql, asOf: Date, range: { after: string | null; upTo: string | null }): Promise<number>;
    finish?(sql: Sql, asOf: Date): Promise<number>;
  };
  /** Processes at most `cap` items the reference way (in key order); returns how many and the last key. */
  reference(url: string, asOf: Date, cap: number): Promise<{ processed: number; lastKey: number }>;
  /** Hash of the job's output rows with key <= upTo (all rows when undefined). */
  fingerprint(sql: Sql, upTo?: number): Promise<string>;
  /** The job parameters of the ptpass arm, for a run as of `asOf`. */
  params?(asOf: Date): Record<string, unknown>;
  settings(partitions: number, chunkSize?: number): RunSettings;
  /**
   * Starts what the job needs besides the database (a receiver process), before the worker process is
   * started; `workerEnv` is added to the worker's environment, `note` printed at the start.
   */
  start?(): Promise<{ workerEnv: Record<string, string>; note: string; stop(): Promise<void> }>;
  /** Runs before each arm, after the tables are restored (reset a receiver's counters). */
  beforeArm?(): Promise<void>;
  /** A line printed under the job's table about the arm just run (e.g. a delivery rate). */
  afterArm?(sql: Sql, arm: 'limit' | 'ptpass' | 'reference', seconds: number): Promise<string>;
}

const DAY = 86_400_000;

export const passLifecycleBench: BenchJob = {
  job: 'pass-lifecycle',
  tables: ['passes', 'packages', 'users'],
  async seed(sql, scale, asOf) {
    const passes = Math.round(1_000_000 * scale);
    const members = Math.max(1, Math.round(passes / 10));
    await sql`INSERT INTO users (name, phone) SELECT 'member ' || g, '010-0000-' || lpad((g % 10000)::text, 4, '0') FROM generate_series(1, ${members}) g`;
    await sql`INSERT INTO packages (name, session_count, period_days) VALUES ('PT 10', 10, 30)`;
    // Half of the passes ended a day before T (due for expiry); the rest end a month later.
    await sql`
      INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at)
      SELECT 1 + (g % ${members}), 1, 'PROGRESSED', 1 + (g % 10), ${new Date(asOf.getTime() - 30 * DAY)},
             CASE WHEN g % 2 = 0 THEN ${new Date(asOf.getTime() - DAY)}::timestamptz ELSE ${new Date(asOf.getTime() + 30 * DAY)}::timestamptz END
      FROM generate_series(1, ${passes}) g`;
    await sql`ANALYZE`;
    return { items: Math.floor(passes / 2) };
  },
  // Passes are independent items: the full limit run compared by key range is the sample's limit too.
  async limit(sql, asOf) {
    const activated =
      await sql`UPDATE passes SET status = 'PROGRESSED', modified_at = now() WHERE status = 'READY' AND started_at <= ${asOf}`;
    const expired = await sql`
      UPDATE passes SET status = 'EXPIRED', expired_at = ${asOf}, modified_at = now()
      WHERE status = 'PROGRESSED' AND (ended_at <= ${asOf} OR remaining_count = 0)`;
    return activated.count + expired.count;
  },
  limitParallel: {
    async keyRange(sql) {
      const [row] = await sql<{ min: string | null; max: string | null }[]>`
        SELECT min(id)::text AS min, max(id)::text AS max FROM passes`;
      return row?.min && row.max ? { min: row.min, max: row.max } : null;
    },
    async range(sql, asOf, { after, upTo }) {
      const lo = after ?? '0';
      const hi = upTo ?? String(Number.MAX_SAFE_INTEGER);
      const activated = await sql`
        UPDATE passes SET status = 'PROGRESSED', modified_at = now()
        WHERE status = 'READY' AND started_at <= ${asOf} AND id > ${lo} AND id <= ${hi}`;
      const expired = await sql`
        UPDATE passes SET status = 'EXPIRED', expired_at = ${asOf}, modified_at = now()
        WHERE status = 'PROGRESSED' AND (ended_at <= ${asOf} OR remaining_count = 0) AND id > ${lo} AND id <= ${hi}`;
      return activated.count + expired.count;
    },
  },
  async reference(url, asOf, cap) {
    const { default: postgresJs } = await import('postgres');
    const reader = postgresJs(url, { max: 1, onnotice: () => {} });
    const writer = postgresJs(url, { max: 1, onnotice: () => {} });
    let processed = 0;
    let lastKey = 0;
    try {
      await reader.begin(async (r) => {
        const cursor = r<{ id: string }[]>`
          SELECT id FROM passes WHERE status = 'PROGRESSED' AND (ended_at <= ${asOf} OR remaining_count = 0) ORDER BY id`.cursor(
          5,
        );
        for await (const rows of cursor) {
          await writer.begin(async (w) => {
            for (const row of rows) {
              await w`UPDATE passes SET status = 'EXPIRED', expired_at = ${asOf}, modified_at = now() WHERE id = ${row.id}`;
            }
          });
          processed += rows.length;
          lastKey = Number(rows[rows.length - 1]!.id);
          if (processed >= cap) break;
        }
      });
    } finally {
      await reader.end();
      await writer.end();
    }
    return { processed, lastKey };
  },
  async fingerprint(sql, upTo) {
    const [row] = await sql<{ hash: string }[]>`
      SELECT md5(string_agg(id || ':' || status || ':' || coalesce(extract(epoch FROM expired_at)::text, '-'), ',' ORDER BY id)) AS hash
      FROM passes WHERE id <= ${upTo ?? Number.MAX_SAFE_INTEGER}`;
    return row!.hash;
  },
  settings(partitions, chunkSize) {
    const step = { partitions, ...(chunkSize ? { chunkSize } : {}) };
    return { steps: { activate: step, expire: step } };
  },
};

export const BENCH_JOBS: BenchJob[] = [
  passLifecycleBench,
  deductSessionsBench,
  issueBulkPassesBench,
  statisticsBench,
  classRemindersBench,
  importMembersBench,
  importBookingsBench,
];
