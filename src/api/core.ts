import { createHash } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import type { AdminEnv } from '../admin/server.ts';
import type { Tx } from '../db/client.ts';
import type { ApiTokenScope } from '../db/queries/api-tokens.ts';
import { apiIdempotencyKeys, apiWrites } from '../db/schema.ts';
import { parseInstant, zoneOffsetMs } from '../time.ts';
import { DAY_RANGE, isInstantOutOfRange } from '../time-range.ts';

/**
 * What every API route shares: the token on the context, problem+json errors (RFC 9457), the write
 * transaction (idempotency key, audit row and the write itself commit together), times and cursors.
 */

export interface ApiEnv {
  Variables: AdminEnv['Variables'] & {
    token: { id: number; name: string; scope: ApiTokenScope };
  };
}

export interface FieldProblem {
  /** The field as the client spells it: `name`, `startedAt`, `query.limit`. */
  field: string;
  message: string;
}

/** An expected refusal: becomes an application/problem+json response; thrown inside a write, it rolls back. */
export class ApiProblem extends Error {
  override name = 'ApiProblem';
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: { errors?: FieldProblem[]; reason?: string } = {},
  ) {
    super(detail);
  }
}

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'about:blank' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    reason: z
      .string()
      .optional()
      .openapi({ description: 'A stable code for the refusal, e.g. `no-free-session`' }),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: 'Each bad field of the request' }),
  })
  .openapi('Problem');

export function problemResponse(problem: ApiProblem, headers: Record<string, string> = {}): Response {
  const body = {
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    ...(problem.extra.reason ? { reason: problem.extra.reason } : {}),
    ...(problem.extra.errors ? { errors: problem.extra.errors } : {}),
  };
  return new Response(JSON.stringify(body), {
    status: problem.status,
    headers: { 'Content-Type': 'application/problem+json', ...headers },
  });
}

export const badRequest = (errors: FieldProblem[]) =>
  new ApiProblem(400, 'Bad request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });

export const notFound = (what: string) => new ApiProblem(404, 'Not found', `${what} does not exist`);

export const refused = (reason: string, detail: string, status = 409) =>
  new ApiProblem(status, 'Refused', detail, { reason });

/** zod issues as problem fields; `target` names where the field was (query, path) unless it is the body. */
export function zodProblems(error: z.ZodError, target: string): FieldProblem[] {
  const prefix = target === 'json' ? '' : `${target === 'param' ? 'path' : target}.`;
  return error.issues.map((issue) => ({
    field: prefix + (issue.path.length ? issue.path.join('.') : '(body)'),
    message: issue.message,
  }));
}

/** Problem responses a route may give, for its OpenAPI document. */
export function problems(...statuses: number[]) {
  const titles: Record<number, string> = {
    400: 'A field is missing or malformed; `errors` names each one',
    401: 'No token, or a wrong or revoked one',
    403: 'The token lacks the write scope',
    404: 'No such resource',
    409: 'Refused by a business rule; `reason` says which',
    413: 'The body is too large',
    415: 'The body is not of the type the route takes; `detail` names it',
    422: 'The Idempotency-Key was used with another request',
  };
  return Object.fromEntries(
    [401, ...statuses].map((status) => [
      status,
      {
        description: titles[status] ?? 'Problem',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  );
}

// ---- times ----

/** An instant as ISO-8601 with the business time zone's offset: 2026-12-01T10:00:00+09:00. */
export function isoInZone(instant: Date, timeZone: string): string {
  const offset = zoneOffsetMs(instant, timeZone);
  const local = new Date(Math.floor(instant.getTime() / 1000) * 1000 + offset).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const minutes = Math.abs(offset) / 60_000;
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${local}${sign}${hh}:${mm}`;
}

export const isoOrNull = (instant: Date | null | undefined, timeZone: string) =>
  instant ? isoInZone(instant, timeZone) : null;

/**
 * Free text a request stores (a name): trimmed, not empty, at most `max` characters, and no control
 * characters (PostgreSQL's text refuses NUL; a tab or newline in a name is a paste accident).
 */
export const Text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters');

export const InstantInput = z.string().openapi({
  description: `ISO-8601; without an offset it is read in BUSINESS_TIMEZONE (2026-12-01T10:00); on a business day from ${DAY_RANGE}`,
  example: '2026-12-01T10:00',
});
export const InstantOutput = z.string().openapi({
  description: 'ISO-8601 with the business time zone offset',
  example: '2026-12-01T10:00:00+09:00',
});

/**
 * Reads input times with the CLI's rule (src/time.ts), on business days from 2000-01-01 to 2100-12-31 (the
 * admin web's rule, src/time-range.ts); every bad one is named.
 */
export function parseTimes<K extends string>(
  values: Partial<Record<K, string | undefined>>,
  timeZone: string,
): Partial<Record<K, Date>> {
  const out: Partial<Record<K, Date>> = {};
  const errors: FieldProblem[] = [];
  for (const [field, text] of Object.entries(values) as Array<[K, string | undefined]>) {
    if (text === undefined) continue;
    const parsed = parseInstant(text, timeZone);
    if (parsed && isInstantOutOfRange(parsed, timeZone))
      errors.push({
        field,
        message: `'${text}' must be a time from ${DAY_RANGE} (business days in ${timeZone})`,
      });
    else if (parsed) out[field] = parsed;
    else
      errors.push({
        field,
        message: `'${text}' is not an ISO-8601 time such as 2026-12-01T10:00 (read in ${timeZone}) or 2026-12-01T01:00:00Z`,
      });
  }
  if (errors.length) throw badRequest(errors);
  return out;
}

// ---- pagination ----

export const PageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .openapi({ description: 'Items per page (1-200)' }),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be the nextCursor of a previous page')
    .optional()
    .openapi({ description: 'The `nextCursor` of the previous page' }),
});

export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      items: z.array(item),
      nextCursor: z
        .string()
        .nullable()
        .openapi({ description: 'Pass as `cursor` for the next page; null at the end' }),
    })
    .openapi(name);
}

/** Keyset cursors: the last id of a page, opaque to clients. */
export function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^id:(\d{1,18})$/.exec(text);
  if (!m) throw badRequest([{ field: 'query.cursor', message: 'must be the nextCursor of a previous page' }]);
  return Number(m[1]);
}

/** Rows fetched with `limit + 1`: the page and the cursor of the next one. */
export function pageFrom<T extends { id: number }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor: rows.length > limit && last ? Buffer.from(`id:${last.id}`).toString('base64url') : null,
  };
}

// ---- writes ----

export interface WriteResult<T> {
  status: 200 | 201 | 202;
  body: T;
  /** The rows written, recorded with the token in `api_writes`. */
  writes: Array<{ resource: string; id: number | string }>;
}

/** A resource ID in a path or body: a positive bigint that JavaScript holds exactly. */
export const Id = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** A JSON request or response body of this schema, as a route declares it. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });

export const IdempotencyHeader = z.object({
  'idempotency-key': z.string().min(1).max(200).optional().openapi({
    description: 'A repeat with the same key and body returns the first response and writes nothing',
  }),
});

/**
 * Runs an API write in one transaction with its audit rows and, when the request has an `Idempotency-Key`,
 * the key's record: a repeat with the same body gets the stored response (nothing is written again), the
 * same key with another body is refused (422). A concurrent repeat waits on the key's row and then replays.
 * An ApiProblem thrown by `run` rolls everything back: a refused request writes nothing, not even its key.
 * Route handlers return the result `as never`: a replay is a stored body, not a typed `c.json`, and
 * @hono/zod-openapi admits only typed responses for routes whose responses declare content; the test
 * checks every real response against the document instead.
 */
export async function apiWrite<T>(
  c: Context<ApiEnv>,
  request: unknown,
  run: (tx: Tx) => Promise<WriteResult<T>>,
): Promise<Response> {
  const { db } = c.var.admin;
  const token = c.var.token;
  const key = c.req.header('idempotency-key');
  const requestHash = createHash('sha256')
    .update(`${c.req.method} ${c.req.path}\n${JSON.stringify(request ?? null)}`)
    .digest('hex');
  const outcome = await db.transaction(async (tx) => {
    if (key !== undefined) {
      const first = await claimIdempotencyKey(tx, { tokenId: token.id, key, requestHash });
      if (first) return { status: first.status, body: first.response, replayed: true };
    }
    const result = await run(tx);
    if (result.writes.length)
      await tx.insert(apiWrites).values(
        result.writes.map((w) => ({
          tokenId: token.id,
          method: c.req.method,
          path: c.req.path,
          resource: w.resource,
          resourceId: String(w.id),
        })),
      );
    if (key !== undefined)
      await tx
        .update(apiIdempotencyKeys)
        .set({ status: result.status, response: sql`${JSON.stringify(result.body)}::jsonb` })
        .where(and(eq(apiIdempotencyKeys.tokenId, token.id), eq(apiIdempotencyKeys.key, key)));
    return { status: result.status, body: result.body as unknown, replayed: false };
  });
  return new Response(JSON.stringify(outcome.body), {
    status: outcome.status,
    headers: {
      'Content-Type': 'application/json',
      ...(outcome.replayed ? { 'Idempotent-Replayed': 'true' } : {}),
    },
  });
}

/**
 * Claims an `Idempotency-Key` for this request, or finds the first request's record (undefined: claimed).
 * The same key with another request is refused (422). A key `prune-run-records` deletes between the two
 * statements (one past the retention age) is claimed anew: it is a new request now.
 */
async function claimIdempotencyKey(
  tx: Tx,
  k: { tokenId: number; key: string; requestHash: string },
): Promise<{ status: number; response: unknown } | undefined> {
  for (let tries = 0; ; tries++) {
    const claimed = await tx
      .insert(apiIdempotencyKeys)
      .values({ ...k, status: 0, response: sql`'null'::jsonb` })
      .onConflictDoNothing()
      .returning({ key: apiIdempotencyKeys.key });
    if (claimed.length > 0) return undefined;
    const [first] = await tx
      .select()
      .from(apiIdempotencyKeys)
      .where(and(eq(apiIdempotencyKeys.tokenId, k.tokenId), eq(apiIdempotencyKeys.key, k.key)));
    if (!first && tries < 2) continue;
    if (!first || first.requestHash !== k.requestHash)
      throw new ApiProblem(
        422,
        'Idempotency key reused',
        `Idempotency-Key '${k.key}' was used for another request; use a new key for a new request`,
        { reason: 'idempotency-key-reused' },
      );
    return first;
  }
}
