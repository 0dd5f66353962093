/**
 * The benchmark's notification receiver: a real HTTP server in its own process, standing in for a
 * provider. `node --import tsx bench/receiver.ts` with RECEIVER_SECRET set; it listens on 127.0.0.1 (port 0)
 * and prints `listening <port>` on stdout.
 *
 *  - POST (any path): verifies the HMAC signature, counts the request and its Idempotency-Key, answers 200;
 *  - GET /stats: `{ requests, distinctKeys, badSignatures, keysHash }`, keysHash being the md5 of the
 *    distinct keys sorted and joined by ',' (compared with the outbox's SENT notification IDs);
 *  - POST /reset: forgets everything (before each arm).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const secret = process.env.RECEIVER_SECRET;
if (!secret) {
  console.error('receiver: RECEIVER_SECRET is required');
  process.exit(2);
}

let requests = 0;
let badSignatures = 0;
let keys = new Set<string>();

function validSignature(raw: Buffer, header: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret!).update(raw).digest('hex')}`);
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/stats') {
      const sorted = [...keys].sort();
      const keysHash = createHash('md5').update(sorted.join(',')).digest('hex');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requests, distinctKeys: keys.size, badSignatures, keysHash }));
      return;
    }
    if (req.method === 'POST' && req.url === '/reset') {
      requests = 0;
      badSignatures = 0;
      keys = new Set();
      res.writeHead(204).end();
      return;
    }
    requests++;
    if (!validSignature(Buffer.concat(chunks), String(req.headers['x-ptpass-signature'] ?? ''))) {
      badSignatures++;
      res.writeHead(401, { 'content-type': 'text/plain' }).end('bad signature');
      return;
    }
    keys.add(String(req.headers['idempotency-key'] ?? ''));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
