import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { sql as dsql } from 'drizzle-orm';
import { startOwnPostgres } from './test/helpers/embedded-postgres.ts';
const pg = await startOwnPostgres();
const url = await pg.createDatabase('x');
const client = postgres(url, { max: 10, onnotice: () => {}, idle_timeout: 30, connect_timeout: 10, backoff: (n: number) => Math.min(0.05 * 2 ** n, 1) });
const db = drizzle(client);
process.on('exit', (c) => console.log('exit', c));
let ok = 0, failed = 0, stop = false; const state = ['', '', '', '']; const errs = new Map<string, number>();
const loop = async (i: number) => { while (!stop) { try { state[i]='tx'; await db.transaction(async (tx) => { await tx.execute(dsql`select pg_sleep(0.005)`); await tx.execute(dsql`select 1`); }); ok++; } catch (e: any) { failed++; const k = String(e?.cause?.code ?? e?.code ?? e?.message).slice(0,60); errs.set(k,(errs.get(k)??0)+1); state[i]='err'; await new Promise(r=>setTimeout(r,50)); } } state[i]='done'; };
const loops = [0,1,2,3].map(loop);
const t = setInterval(() => console.log('ok', ok, 'failed', failed, state.join(','), [...errs].join(' ')), 1000);
await new Promise(r => setTimeout(r, 1000));
for (let i = 0; i < 3; i++) { await pg.stop(); await new Promise(r => setTimeout(r, 2000)); await pg.start(); await new Promise(r => setTimeout(r, 3000)); console.log('cycle', i); }
stop = true; await Promise.race([Promise.all(loops), new Promise(r=>setTimeout(r,5000))]); console.log('loops', state.join(','));
clearInterval(t); await client.end({timeout: 1}); await pg.destroy(); process.exit(0);
