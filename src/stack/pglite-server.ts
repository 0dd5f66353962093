import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { MIGRATIONS_FOLDER } from '../db/client.ts';

/**
 * The embedded database of `npm start`: PGlite persisted in a folder, migrated with Drizzle's PGlite
 * driver, then served on a local port so the worker and every `ptpass` command reach the same database
 * with the same postgres.js code they use against a real server.
 *
 * PGlite is a single PostgreSQL session. The socket server multiplexes client connections onto it and
 * keeps one client's turn while that client is inside a transaction; `SessionGate` widens "inside a
 * transaction" to "until the backend has answered ReadyForQuery idle", so the unnamed statement one
 * client is parsing/binding cannot be replaced by another client's in between.
 */

const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I'

class SessionGate {
  private idle = true;
  constructor(private readonly pg: PGlite) {}

  get waitReady() {
    return this.pg.waitReady;
  }

  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.pg.runExclusive(fn);
  }

  isInTransaction(): boolean {
    return !this.idle || this.pg.isInTransaction();
  }

  async execProtocolRawStream(message: Uint8Array, options: { onRawData: (data: Uint8Array) => void }) {
    let tail = new Uint8Array(0);
    const result = await this.pg.execProtocolRawStream(message, {
      ...options,
      onRawData: (chunk: Uint8Array) => {
        const joined = new Uint8Array(tail.length + chunk.length);
        joined.set(tail);
        joined.set(chunk, tail.length);
        tail = joined.slice(-6);
        options.onRawData(chunk);
      },
    });
    if (tail.length > 0) this.idle = tail.length === 6 && tail[0] === READY_FOR_QUERY && tail[5] === IDLE;
    return result;
  }

  async exec(query: string) {
    const result = await this.pg.exec(query);
    this.idle = !this.pg.isInTransaction();
    return result;
  }
}

export interface EmbeddedDatabase {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startEmbeddedDatabase(options: {
  dataDir: string;
  port: number;
}): Promise<EmbeddedDatabase> {
  mkdirSync(options.dataDir, { recursive: true });
  const pg = await PGlite.create({ dataDir: options.dataDir });
  await migrate(drizzle(pg), { migrationsFolder: MIGRATIONS_FOLDER });
  const server = new PGLiteSocketServer({
    db: new SessionGate(pg) as unknown as PGlite,
    host: '127.0.0.1',
    port: options.port,
    maxConnections: 64,
  });
  try {
    await server.start();
  } catch (err) {
    await pg.close();
    const code = (err as { code?: string }).code;
    throw new Error(
      code === 'EADDRINUSE'
        ? `port ${options.port} is taken (another \`npm start\`?); set PTPASS_PGLITE_PORT to another port`
        : `could not serve the embedded database: ${(err as Error).message}`,
    );
  }
  return {
    url: `postgres://postgres@127.0.0.1:${options.port}/postgres`,
    dataDir: options.dataDir,
    async stop() {
      await server.stop();
      await pg.close();
    },
  };
}
