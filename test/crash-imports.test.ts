import { Readable } from 'node:stream';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openImportFile } from '../src/client/import-file.ts';
import { importFile } from '../src/client/imports.ts';
import { stepRuns } from '../src/db/schema.ts';
import type { ImportKind, JobResult } from '../src/jobs/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { importCounts, importedMembers, importRejects, membersCsv } from './helpers/import-files.ts';
import { seedPackage } from './helpers/seed.ts';
import { connectTemporal, type TemporalTestContext } from './helpers/temporal.ts';
import { spawnWorker, type WorkerProcess, waitFor } from './helpers/worker-process.ts';

let database: TestDatabase;
let temporal: TemporalTestContext;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase('crash_imports');
  temporal = await connectTemporal('crash-imports');
  // Import ids of this file's database start apart from other files' (job instances share a namespace).
  await database.db.execute(sql`ALTER SEQUENCE imports_id_seq RESTART WITH 200000`);
});
afterEach(async () => {
  for (const w of workers.splice(0)) {
    w.kill('SIGKILL');
    await w.exited;
  }
});
afterAll(async () => {
  await temporal?.close();
  await database?.drop();
});

const MEMBERS = 1500;
const BOOKINGS = 2500;

function bookingsCsv(prefix: string): string {
  const lines = ['external_id,member_external_id,starts_at,ends_at,attended'];
  for (let i = 1; i <= BOOKINGS; i++) {
    const member = i % 89 === 0 ? 'nobody' : `${prefix}m${(i % MEMBERS) + 1}`;
    const hour = i % 300;
    const start = new Date(Date.UTC(2026, 2, 1, hour));
    const end = new Date(start.getTime() + 3600_000);
    lines.push(`${prefix}b${i},${member},${start.toISOString()},${end.toISOString()},${i % 3 === 0}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

const launchDeps = () => ({ client: temporal.client, db: database.db, taskQueue: temporal.taskQueue });

async function runImport(kind: ImportKind, csv: string, slow: boolean, partitions?: number) {
  const upsert = {
    ...(partitions ? { partitions } : {}),
    // Small, throttled chunks give the kill a wide window; a short heartbeat timeout a quick retry.
    ...(slow ? { chunkSize: 50, pauseMs: 30 } : {}),
  };
  return importFile(launchDeps(), {
    kind,
    fileName: `${kind}.csv`,
    file: await openImportFile(kind, Readable.from([Buffer.from(csv)])),
    wait: !slow,
    settings: { ...(slow ? { heartbeatTimeoutSeconds: 3 } : {}), steps: { upsert } },
  });
}

/** Kills the worker once the import's step has committed a few chunks, starts another, and awaits the job. */
async function crashMidway(
  kind: ImportKind,
  csv: string,
  worker: WorkerProcess,
  partitions?: number,
): Promise<{ result: JobResult; runId: string; importId: number }> {
  const started = await runImport(kind, csv, true, partitions);
  expect(started.launch.outcome).toBe('started');
  const partitionsOf = () =>
    database.db
      .select()
      .from(stepRuns)
      .where(and(eq(stepRuns.jobRunId, started.launch.runId), eq(stepRuns.step, 'upsert')));
  const midway = await waitFor(async () => {
    const rows = await partitionsOf();
    return rows.length === (partitions ?? 1) && rows.every((r) => r.chunks >= 5) ? rows : undefined;
  }, `the ${kind} import to commit a few chunks in every partition`);
  worker.kill('SIGKILL');
  expect((await worker.exited).signal).toBe('SIGKILL');
  expect(midway.reduce((n, r) => n + r.readCount, 0)).toBeLessThan(kind === 'members' ? MEMBERS : BOOKINGS);

  workers.push(await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue }));
  const result = (await temporal.client.workflow.getHandle(started.launch.workflowId).result()) as JobResult;
  const after = await partitionsOf();
  expect(after).toHaveLength(partitions ?? 1);
  expect(Math.max(...after.map((r) => r.attempt))).toBeGreaterThanOrEqual(2);
  return { result, runId: started.launch.runId, importId: started.importId };
}

const bookingsOf = (prefix: string) =>
  database.db.execute<Record<string, unknown>>(sql`
    SELECT substr(b.external_id, 3) AS id, substr(u.external_id, 3) AS member, p.started_at::text AS pass_start,
           b.status, b.attended, b.used_pass, b.started_at::text, b.ended_at::text
    FROM bookings b JOIN users u ON u.id = b.user_id JOIN passes p ON p.id = b.pass_id
    WHERE b.external_id LIKE ${`${prefix}%`} ORDER BY 1`);

/** Every member of a prefix gets the same pass: bookings need one valid at their class time. */
async function seedPasses(prefix: string, packageId: number) {
  await database.db.execute(sql`
    INSERT INTO passes (user_id, package_id, remaining_count, started_at, ended_at)
    SELECT id, ${packageId}, 10, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z' FROM users
    WHERE external_id LIKE ${`${prefix}%`}`);
}

it('an import whose worker is killed with SIGKILL mid-step ends with the rows and rejects of a clean import', async () => {
  workers.push(await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue }));
  const pkg = await seedPackage(database.db);

  // Clean imports, prefix c-.
  const cleanMembers = await runImport('members', membersCsv('c-', MEMBERS), false);
  await seedPasses('c-', pkg);
  const cleanBookings = await runImport('bookings', bookingsCsv('c-'), false);
  expect(cleanMembers).toMatchObject({ rows: MEMBERS, rejected: Math.floor(MEMBERS / 97) });
  expect(cleanBookings.rows).toBe(BOOKINGS);
  // Unknown members: 'nobody', and the members whose rows were rejected.
  expect(cleanBookings.rejected).toBeGreaterThan(Math.floor(BOOKINGS / 89));

  // The same files, prefix k-, each with the worker killed midway.
  const members = await crashMidway('members', membersCsv('k-', MEMBERS), workers.pop()!);
  await seedPasses('k-', pkg);
  const bookings = await crashMidway('bookings', bookingsCsv('k-'), workers.pop()!);

  // The counts of a clean run: nothing read twice, nothing written twice, nothing missed.
  expect(members.result).toMatchObject({
    read: MEMBERS,
    written: cleanMembers.written,
    skipped: cleanMembers.rejected,
  });
  expect(bookings.result).toMatchObject({
    read: BOOKINGS,
    written: cleanBookings.written,
    skipped: cleanBookings.rejected,
  });
  // Row by row, and reject by reject.
  const cleanRows = await importedMembers(database.db, 'c-');
  expect(cleanRows).toHaveLength(MEMBERS - Math.floor(MEMBERS / 97));
  expect(await importedMembers(database.db, 'k-')).toEqual(cleanRows);
  const cleanBookingRows = await bookingsOf('c-');
  expect(cleanBookingRows).toHaveLength(BOOKINGS - cleanBookings.rejected!);
  expect(await bookingsOf('k-')).toEqual(cleanBookingRows);
  expect(await importRejects(database.db, members.importId, 'members', 'k-')).toEqual(
    await importRejects(database.db, cleanMembers.importId, 'members', 'c-'),
  );
  expect(await importRejects(database.db, bookings.importId, 'bookings', 'k-')).toEqual(
    await importRejects(database.db, cleanBookings.importId, 'bookings', 'c-'),
  );
  const [imported] = await database.db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM imports WHERE status = 'IMPORTED'`,
  );
  expect(imported!.n).toBe(4);
});

it('an import split into 3 line ranges, its worker killed with SIGKILL, ends as a clean one-range import: rows, rejects and counts', async () => {
  workers.push(await spawnWorker({ databaseUrl: database.url, taskQueue: temporal.taskQueue }));
  const pkg = await seedPackage(database.db);
  // The repeated external ids sit in the last range; the lines they repeat in the first.
  const REPEATS = 20;

  const cleanMembers = await runImport('members', membersCsv('o-', MEMBERS, REPEATS), false, 1);
  await seedPasses('o-', pkg);
  const cleanBookings = await runImport('bookings', bookingsCsv('o-'), false, 1);
  expect(cleanMembers).toMatchObject({
    rows: MEMBERS + REPEATS,
    rejected: Math.floor(MEMBERS / 97) + REPEATS,
  });

  const members = await crashMidway('members', membersCsv('p-', MEMBERS, REPEATS), workers.pop()!, 3);
  await seedPasses('p-', pkg);
  const bookings = await crashMidway('bookings', bookingsCsv('p-'), workers.pop()!, 3);

  expect(members.result).toMatchObject({
    read: MEMBERS + REPEATS,
    written: cleanMembers.written,
    skipped: cleanMembers.rejected,
  });
  expect(members.result.steps[0]!.partitions).toBe(3);
  expect(bookings.result).toMatchObject({
    read: BOOKINGS,
    written: cleanBookings.written,
    skipped: cleanBookings.rejected,
  });
  expect(await importedMembers(database.db, 'p-')).toEqual(await importedMembers(database.db, 'o-'));
  expect(await bookingsOf('p-')).toEqual(await bookingsOf('o-'));
  expect(await importRejects(database.db, members.importId, 'members', 'p-')).toEqual(
    await importRejects(database.db, cleanMembers.importId, 'members', 'o-'),
  );
  expect(await importRejects(database.db, bookings.importId, 'bookings', 'p-')).toEqual(
    await importRejects(database.db, cleanBookings.importId, 'bookings', 'o-'),
  );
  // The import's own counts are the whole file's, set once the last range finished.
  expect(await importCounts(database.db, members.importId)).toEqual({
    status: 'IMPORTED',
    written: cleanMembers.written,
    rejected: cleanMembers.rejected,
  });
  expect(await importCounts(database.db, bookings.importId)).toEqual({
    status: 'IMPORTED',
    written: cleanBookings.written,
    rejected: cleanBookings.rejected,
  });
});
