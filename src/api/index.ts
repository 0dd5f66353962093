import { OpenAPIHono } from '@hono/zod-openapi';
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { HttpError } from '../admin/http.ts';
import type { AdminEnv } from '../admin/server.ts';
import { findLiveApiToken } from '../db/queries/api-tokens.ts';
import { type ApiEnv, ApiProblem, badRequest, problemResponse, zodProblems } from './core.ts';
import { renderReference } from './reference.ts';
import { registerBookings } from './routes/bookings.ts';
import { registerImports } from './routes/imports.ts';
import { registerMembers } from './routes/members.ts';
import { registerOperations } from './routes/operations.ts';
import { registerPasses } from './routes/passes.ts';

/**
 * The HTTP API, /api/v1, in the admin web's process. Routes are @hono/zod-openapi routes: their zod
 * schemas validate requests and generate the OpenAPI 3.1 document (/api/v1/openapi.json, rendered at
 * /api/v1/reference). To add a resource: a `registerX(api)` in src/api/routes/, listed in ROUTES.
 */

export const API_BASE = '/api/v1';

const ROUTES: Array<(api: OpenAPIHono<ApiEnv>) => void> = [
  registerMembers,
  registerPasses,
  registerBookings,
  registerOperations,
  registerImports,
];

/** Served without a token: the document and its reference page. */
const PUBLIC = new Set(['/openapi.json', '/reference']);

const MAX_JSON_BYTES = 64 * 1024;

export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'ptpass API',
    version: '1',
    description:
      'Members, groups, packages, passes, bookings, bulk passes, imports and job runs of a ptpass studio. ' +
      'Authenticate with `Authorization: Bearer <token>` (`ptpass tokens create`); read tokens may only GET. ' +
      'Errors are application/problem+json (RFC 9457). Every POST takes an `Idempotency-Key`. ' +
      'Times are ISO-8601; input without an offset is read in BUSINESS_TIMEZONE.',
  },
  servers: [{ url: API_BASE }],
  security: [{ bearer: [] }],
};

export function createApi(): OpenAPIHono<ApiEnv> {
  const api = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, _c) => {
      if (!result.success) return problemResponse(badRequest(zodProblems(result.error, result.target)));
      return undefined;
    },
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A token from `ptpass tokens create --name NAME --scope read|write`',
  });

  // JSON bodies are limited here; a route taking another body (an upload) sets its own limit with
  // bodyLimit in its createRoute `middleware`. Bodies of other types are never read by JSON routes.
  const jsonLimit = bodyLimit({
    maxSize: MAX_JSON_BYTES,
    onError: () => {
      throw new ApiProblem(413, 'Too large', `the request body is over ${MAX_JSON_BYTES / 1024} KiB`);
    },
  });
  api.use((c, next) => (/json/i.test(c.req.header('content-type') ?? '') ? jsonLimit(c, next) : next()));
  api.use(async (c, next) => {
    const path = c.req.path.slice(API_BASE.length);
    if (PUBLIC.has(path)) return next();
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer ([A-Za-z0-9_\-.~+/]{10,200}=*)$/.exec(header);
    const token = m ? await findLiveApiToken(c.var.admin.db, m[1]!) : undefined;
    if (!token)
      return problemResponse(
        new ApiProblem(
          401,
          'Unauthorized',
          header
            ? 'the bearer token is wrong or revoked'
            : 'send Authorization: Bearer <token> (ptpass tokens create)',
        ),
        { 'WWW-Authenticate': 'Bearer realm="ptpass"' },
      );
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && token.scope !== 'write')
      return problemResponse(
        new ApiProblem(
          403,
          'Forbidden',
          `token ${token.id} (${token.name}) has the read scope; this needs write`,
        ),
      );
    c.set('token', token);
    return next();
  });

  for (const register of ROUTES) register(api);

  api.doc31('/openapi.json', OPENAPI_INFO);
  api.get('/reference', (c) => {
    const document = api.getOpenAPI31Document(OPENAPI_INFO);
    return c.html(renderReference(document as unknown as Record<string, unknown>));
  });
  api.notFound((c) =>
    problemResponse(new ApiProblem(404, 'Not found', `no route ${c.req.method} ${c.req.path}`)),
  );
  api.onError((err, c) => apiError(err, c));
  return api;
}

export function apiError(err: unknown, c: { var: AdminEnv['Variables']; req: { path: string } }): Response {
  if (err instanceof ApiProblem) return problemResponse(err);
  if (err instanceof HttpError) return problemResponse(new ApiProblem(err.status, 'Not found', err.message));
  if (err instanceof HTTPException && err.status < 500)
    return problemResponse(
      new ApiProblem(err.status, 'Bad request', err.message || 'the request could not be read'),
    );
  c.var.admin.logger.error('API request failed', { path: c.req.path, error: err });
  return problemResponse(
    new ApiProblem(500, 'Internal error', 'Something went wrong; the details are in the server log.'),
  );
}

/** Mounts the API on the admin web's Hono app (see createAdminHttp). */
export function mountApi(http: Hono<AdminEnv>): void {
  http.route(API_BASE, createApi() as unknown as Hono<AdminEnv>);
}
