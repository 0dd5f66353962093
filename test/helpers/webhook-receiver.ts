import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Db } from '../../src/db/client.ts';

/**
 * A real HTTP receiver on 127.0.0.1 (port 0) standing in for a notification provider. It records every
 * request with its raw body, verifies the signature, counts requests in flight, and answers with whatever
 * the test's `respond` says.
 */

export interface ReceivedRequest {
  idempotencyKey: string;
  signature: string;
  signatureValid: boolean;
  rawBody: string;
  body: { id: string; event: string; message: string; recipient: Record<string, unknown> } & Record<
    string,
    unknown
  >;
  /** 1 for the first request with this idempotency key, 2 for the repeat, ... */
  nth: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Most requests ever in flight at once. */
  maxInFlight(): number;
  /** Requests per idempotency key. */
  byKey(): Map<string, ReceivedRequest[]>;
  respond: (request: ReceivedRequest) => Reply;
  close(): Promise<void>;
}

/**
 * The environment of a worker child process (`spawnWorker`) that sends its notifications to `receiver`
 * through the webhook channel: four in flight, a 2 s timeout, quick retries.
 */
export function webhookWorkerEnv(receiver: Pick<Receiver, 'url'>, secret: string): Record<string, string> {
  return {
    NOTIFY_CHANNEL: 'webhook',
    NOTIFY_WEBHOOK_URL: receiver.url,
    NOTIFY_WEBHOOK_SECRET: secret,
    NOTIFY_CONCURRENCY: '4',
    NOTIFY_TIMEOUT_MS: '2000',
    NOTIFY_RETRY_BACKOFF_MS: '10',
  };
}

export async function startReceiver(
  secret: string,
  respond: (request: ReceivedRequest) => Reply = () => ({ status: 200 }),
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const counts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const receiver: Receiver = {
    url: '',
    requests,
    maxInFlight: () => maxInFlight,
    byKey() {
      const map = new Map<string, ReceivedRequest[]>();
      for (const r of requests) map.set(r.idempotencyKey, [...(map.get(r.idempotencyKey) ?? []), r]);
      return map;
    },
    respond,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        inFlight--;
      }
    };
    res.on('close', finish);
    void readBody(req).then((rawBody) => {
      const key = String(req.headers['idempotency-key'] ?? '');
      const signature = String(req.headers['x-ptpass-signature'] ?? '');
      const nth = (counts.get(key) ?? 0) + 1;
      counts.set(key, nth);
      const request: ReceivedRequest = {
        idempotencyKey: key,
        signature,
        signatureValid: verifySignature(rawBody, signature, secret),
        rawBody,
        body: JSON.parse(rawBody),
        nth,
      };
      requests.push(request);
      const reply = receiver.respond(request);
      const send = () => {
        finish();
        res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
        res.end(reply.status < 300 ? 'ok' : `status ${reply.status}`);
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`;
  return receiver;
}

/** What a provider does on its side: recompute the HMAC over the raw body and compare in constant time. */
export function verifySignature(rawBody: string, header: string, secret: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`);
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The outbox's exactly-once promise as the receiver saw it: its distinct Idempotency-Keys are exactly the
 * SENT notification IDs (nothing delivered that is not recorded as sent, nothing recorded that never
 * arrived), every request is validly signed, and a key sent again came with the same body. Returns the
 * requests per key, for a test's own checks on the repeats.
 */
export async function expectSentOnceUnderTheirKeys(
  db: Db,
  receiver: Receiver,
): Promise<Map<string, ReceivedRequest[]>> {
  const sentIds = (
    await db.execute<{ id: string }>(sql`SELECT id::text FROM notifications WHERE status = 'SENT'`)
  ).map((r) => r.id);
  const byKey = receiver.byKey();
  expect([...byKey.keys()].sort()).toEqual(sentIds.sort());
  expect(receiver.requests.every((r) => r.signatureValid)).toBe(true);
  for (const requests of byKey.values()) expect(new Set(requests.map((r) => r.rawBody)).size).toBe(1);
  return byKey;
}
