/**
 * An `npm start` stand-in for tests of leftovers: starts the embedded PostgreSQL on the data directory and
 * port given as arguments, prints `ready`, and runs until it is killed (which leaves the server running).
 */
import { startEmbeddedPostgres } from '../../src/stack/embedded-postgres.ts';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) {
  process.stderr.write('usage: hold-embedded-postgres.ts <data dir> <port>\n');
  process.exit(2);
}
await startEmbeddedPostgres({ dataDir, port: Number(port) });
process.stdout.write('ready\n');
setInterval(() => {}, 60_000);
