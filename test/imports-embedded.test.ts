import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import { importMembersSteps } from '../src/activities/imports.ts';
import { openImportFile } from '../src/client/import-file.ts';
import { createDb } from '../src/db/client.ts';
import { stageImport } from '../src/db/queries/imports.ts';
import { startEmbeddedDatabase } from '../src/stack/pglite-server.ts';
import { freePort } from './helpers/cli.ts';

it('stages a file on the embedded PGlite database (no COPY FROM STDIN there) and imports it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ptpass-imports-pglite-'));
  const embedded = await startEmbeddedDatabase({ dataDir: dir, port: await freePort() });
  const { db, sql, close } = createDb({ url: embedded.url, embedded: true, max: 2 });
  try {
    const file = await openImportFile(
      'members',
      Readable.from([Buffer.from('\uFEFFexternal_id,name\r\nm1,김민수\r\nm2,"Lee\r\nJr"\r\nm3,\r\n')]),
    );
    const staged = await stageImport(
      sql,
      { kind: 'members', fileName: 'm.csv', columnCount: 2 },
      file.records,
    );
    expect(staged.rowCount).toBe(3);
    const chunk = await db.transaction((tx) =>
      importMembersSteps.upsert!.chunk(tx, {
        asOf: new Date(),
        params: { importId: staged.importId },
        after: null,
        upTo: null,
        limit: 100,
      }),
    );
    expect(chunk).toEqual({
      read: 3,
      written: 2,
      lastKey: '5',
      skipped: [{ key: '5', reason: 'name is empty' }],
    });
    const rows = await sql<
      { external_id: string; name: string }[]
    >`SELECT external_id, name FROM users ORDER BY 1`;
    expect(rows.map((r) => [r.external_id, r.name])).toEqual([
      ['m1', '김민수'],
      ['m2', 'Lee\nJr'],
    ]);
  } finally {
    await close();
    await embedded.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
