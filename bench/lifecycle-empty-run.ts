/**
 * `npm run bench:empty-run [-- --scale 1]`
 *
 * The cost of a `pass-lifecycle` run that finds nothing to do — what the 5-minute schedule does most of
 * the day. Seeds 1,000,000 × scale passes none of which is due (60 % EXPIRED history that started and ended
 * in the past, 38 % PROGRESSED ending next month, 2 % READY starting next week), then runs each step's first
 * chunk (the ptpass SQL, src/db/queries/passes.ts) as of now, 20 times, and prints the median time and the
 * buffers its plan touched. Without the partial indexes and expression statistics the expire step walked
 * every PROGRESSED pass.
 */
import { parseArgs } from 'node:util';
import { createDb, migrateDatabase } from '../src/db/client.ts';
import { activatePassesChunk, expirePassesChunk } from '../src/db/queries/passes.ts';
import { adminSql } from './support.ts';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    'admin-url': {
      type: 'string',
      default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const scale = Number(values.scale);
if (!(scale > 0)) {
  console.error('bench: --scale must be > 0');
  process.exit(2);
}
const dbName = `ptpass_bench_empty_${process.pid}`;
const url = (() => {
  const u = new URL(values['admin-url']!);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

const admin = adminSql(values['admin-url']!);
await admin.unsafe(`CREATE DATABASE ${dbName}`);
try {
  await migrateDatabase({ url });
  const { db, sql, close } = createDb({ url, max: 2 });
  try {
    const total = Math.round(1_000_000 * scale);
    const members = Math.max(1, Math.round(total / 10));
    await sql`INSERT INTO users (name) SELECT 'member ' || g FROM generate_series(1, ${members}) g`;
    await sql`INSERT INTO packages (name, session_count, period_days) VALUES ('PT 10', 10, 30)`;
    await sql`
      INSERT INTO passes (user_id, package_id, status, remaining_count, started_at, ended_at, expired_at)
      SELECT 1 + (g % ${members}), 1,
        (CASE WHEN g % 50 < 30 THEN 'EXPIRED' WHEN g % 50 < 49 THEN 'PROGRESSED' ELSE 'READY' END)::pass_status,
        CASE WHEN g % 50 < 30 THEN 0 ELSE 1 + (g % 9) END,
        CASE WHEN g % 50 < 30 THEN now() - interval '60 days' WHEN g % 50 < 49 THEN now() - interval '5 days' ELSE now() + interval '7 days' END,
        CASE WHEN g % 50 < 30 THEN now() - interval '30 days' WHEN g % 50 < 49 THEN now() + interval '25 days' ELSE now() + interval '37 days' END,
        CASE WHEN g % 50 < 30 THEN now() - interval '30 days' END
      FROM generate_series(1, ${total}) g`;
    await sql`VACUUM ANALYZE passes`;

    const asOf = new Date();
    const window = { asOf, after: null, upTo: null, limit: 2000 };
    const rows: string[] = [];
    for (const [step, chunk] of [
      ['activate', activatePassesChunk],
      ['expire', expirePassesChunk],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const counts = await db.transaction(async (tx) => chunk(tx, window));
        times.push(performance.now() - started);
        if (counts.read !== 0)
          throw new Error(`${step}: ${counts.read} passes due; the seed should have none`);
      }
      times.sort((a, b) => a - b);
      rows.push(
        `${step.padEnd(9)} median ${times[10]!.toFixed(2)} ms  (min ${times[0]!.toFixed(2)}, max ${times[19]!.toFixed(2)})`,
      );
    }
    console.log(`pass-lifecycle, empty run over ${total.toLocaleString('en')} passes (none due):`);
    for (const row of rows) console.log(`  ${row}`);
  } finally {
    await close();
  }
} finally {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
