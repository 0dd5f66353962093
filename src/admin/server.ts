import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Client } from '@temporalio/client';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { apiError, mountApi } from '../api/index.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { createLogger, type Logger } from '../logger.ts';
import type { AdminApp } from './app.ts';
import { adminPage } from './app.ts';
import {
  LoginThrottle,
  resolveAdminCredentials,
  SESSION_COOKIE,
  type Session,
  SessionKeeper,
} from './auth.ts';
import { html } from './html.ts';
import {
  type AdminRequest,
  HttpError,
  htmlReply,
  type Reply,
  redirect,
  textReply,
  wantsHtml,
} from './http.ts';
import { STYLESHEET } from './layout.ts';
import { bulkPassesPage, createBulkPass } from './pages/bulk-passes.ts';
import { dashboardPage } from './pages/dashboard.ts';
import { logout, showLogin, submitLogin } from './pages/login.ts';
import { memberPage, membersPage } from './pages/members.ts';
import { runPage, runsPage } from './pages/runs.ts';
import { scheduleAction, schedulesPage } from './pages/schedules.ts';

/**
 * The admin web: server-rendered pages on Hono. Every page needs a login; every POST needs the session's
 * CSRF token and, from a browser, this site's Origin; every response carries a strict
 * Content-Security-Policy (no script at all). Routing, cookies, the body limit, the origin check and the
 * security headers are Hono's; the pages are plain functions of (app, request) returning a reply.
 */

/** What every handler of the admin web and the API finds on the context. */
export interface AdminEnv {
  Variables: {
    admin: AdminApp;
    session: Session | undefined;
    csrfToken: string | undefined;
  };
}

type PageHandler = (app: AdminApp, req: AdminRequest) => Reply | Promise<Reply>;

interface Page {
  method: 'GET' | 'POST';
  path: string;
  handle: PageHandler;
}

/** Served without a login: the login itself, its stylesheet, the health check (and the API, on its tokens). */
const PUBLIC_PAGES: Page[] = [
  { method: 'GET', path: '/admin.css', handle: stylesheet },
  { method: 'GET', path: '/healthz', handle: () => textReply(200, 'ok') },
  // Browsers ask for it on every page; there is none.
  { method: 'GET', path: '/favicon.ico', handle: () => ({ status: 204 }) },
  { method: 'GET', path: '/login', handle: showLogin },
  { method: 'POST', path: '/login', handle: submitLogin },
];

const PAGES: Page[] = [
  { method: 'POST', path: '/logout', handle: logout },
  { method: 'GET', path: '/', handle: () => redirect('/runs') },
  { method: 'GET', path: '/dashboard', handle: dashboardPage },
  { method: 'GET', path: '/runs', handle: runsPage },
  { method: 'GET', path: '/runs/:id', handle: runPage },
  { method: 'GET', path: '/schedules', handle: schedulesPage },
  { method: 'POST', path: '/schedules/:job/:action', handle: scheduleAction },
  { method: 'GET', path: '/members', handle: membersPage },
  { method: 'GET', path: '/members/:id', handle: memberPage },
  { method: 'GET', path: '/bulk-passes', handle: bulkPassesPage },
  { method: 'POST', path: '/bulk-passes', handle: createBulkPass },
];

/** Paths of every page, for tests and docs: each one requires a login. */
export const PROTECTED_PAGES = ['/', '/dashboard', '/runs', '/schedules', '/members', '/bulk-passes'];

/** Paths under this prefix are the API's: it authenticates with tokens, not the session cookie. */
export const API_PREFIX = '/api/';

const MAX_BODY_BYTES = 16 * 1024;

const CSRF_REFUSED =
  'the form’s security token is missing or wrong; nothing was changed — reload the page and try again';

function stylesheet(): Reply {
  return {
    status: 200,
    body: STYLESHEET,
    contentType: 'text/css; charset=utf-8',
    headers: { 'Cache-Control': 'max-age=300' },
  };
}

function toResponse(reply: Reply): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(reply.headers ?? {}))
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  if (reply.contentType) headers.set('Content-Type', reply.contentType);
  const body = reply.body === undefined ? '' : String(reply.body);
  return new Response(reply.status === 204 ? null : body, { status: reply.status, headers });
}

/** Builds the request a page handler sees, reading the urlencoded form of a POST. */
async function pageRequest(c: Context<AdminEnv>, path: string): Promise<AdminRequest> {
  let form = new URLSearchParams();
  if (c.req.method === 'POST') {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded')
      throw new HttpError(415, 'forms must be sent as application/x-www-form-urlencoded');
    form = new URLSearchParams(await c.req.text());
  }
  let remoteAddress = 'unknown';
  try {
    remoteAddress = getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // Not served by @hono/node-server (app.request in a test): no address.
  }
  return {
    method: c.req.method,
    url: new URL(c.req.url),
    headers: c.req.raw.headers,
    params: path
      .split('/')
      .filter((part) => part.startsWith(':'))
      .map((part) => c.req.param(part.slice(1)) ?? ''),
    form,
    cookies: getCookie(c),
    remoteAddress,
    session: c.var.session,
    csrfToken: c.var.csrfToken,
  };
}

const ERROR_TITLES: Record<number, string> = {
  400: 'Not accepted',
  403: 'Refused',
  404: 'Not found',
  413: 'Not accepted',
  415: 'Not accepted',
};

function errorResponse(c: Context<AdminEnv>, status: number, message: string): Response {
  const session = c.var.session;
  if (!session || !wantsHtml(c.req.header('accept'))) return toResponse(textReply(status, message));
  const request = { session, csrfToken: c.var.csrfToken } as AdminRequest;
  return toResponse(
    htmlReply(
      adminPage(c.var.admin, request, {
        title: ERROR_TITLES[status] ?? 'Something went wrong',
        error: message,
        body: html`<p><a href="/runs">Back to the runs</a></p>`,
      }),
      status,
    ),
  );
}

/**
 * The whole HTTP surface of `ptpass admin`: the admin pages, and the API under /api/ (mounted by
 * `mountApi`, which adds its own routes, auth and errors). Other parts add routes to the returned app.
 */
export function createAdminHttp(app: AdminApp, mountApi?: (http: Hono<AdminEnv>) => void): Hono<AdminEnv> {
  const http = new Hono<AdminEnv>();
  const isApi = (c: Context) => c.req.path.startsWith(API_PREFIX);

  http.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      xFrameOptions: 'DENY',
      referrerPolicy: 'same-origin',
      crossOriginOpenerPolicy: 'same-origin',
      crossOriginResourcePolicy: 'same-origin',
      strictTransportSecurity: app.config.adminCookieSecure ? 'max-age=31536000' : false,
    }),
  );
  http.use(async (c, next) => {
    c.set('admin', app);
    const session = app.sessions.verify(getCookie(c, SESSION_COOKIE));
    c.set('session', session);
    c.set('csrfToken', session ? app.sessions.csrfToken(session) : undefined);
    await next();
    if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store');
  });

  // Nothing — not even whether a page exists — is answered without a login.
  const publicPaths = new Set(PUBLIC_PAGES.map((p) => p.path));
  http.use(async (c, next) => {
    if (c.var.session || publicPaths.has(c.req.path) || isApi(c)) return next();
    if (!wantsHtml(c.req.header('accept'))) return toResponse(textReply(401, 'login required'));
    const url = new URL(c.req.url);
    const query = c.req.method === 'GET' ? `?next=${encodeURIComponent(url.pathname + url.search)}` : '';
    return toResponse(redirect(`/login${query}`));
  });

  // A browser's form post names its origin; one from another site is refused before anything is read.
  // (Pages send `Referrer-Policy: same-origin`: with `no-referrer` Chromium would send `Origin: null`.)
  // A post with no Origin at all is no browser's cross-site form: it goes on to the CSRF token check.
  const sameOrigin = csrf({
    origin: (origin, c) => {
      try {
        return new URL(origin).host === c.req.header('host');
      } catch {
        return false;
      }
    },
  });
  http.use(async (c, next) => {
    if (isApi(c) || c.req.header('origin') === undefined) return next();
    try {
      return await sameOrigin(c, next);
    } catch (error) {
      if (error instanceof HTTPException)
        throw new HttpError(403, 'a form from another site was refused; nothing was changed');
      throw error;
    }
  });
  const formLimit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new HttpError(413, 'the form is too large');
    },
  });
  // The API sets its own limits per route (an upload is larger than a form).
  http.use((c, next) => (isApi(c) ? next() : formLimit(c, next)));

  mountApi?.(http);

  const byPath = new Map<string, Page[]>();
  for (const page of [...PUBLIC_PAGES, ...PAGES])
    byPath.set(page.path, [...(byPath.get(page.path) ?? []), page]);
  for (const [path, pages] of byPath) {
    for (const page of pages) {
      http.on(page.method, path, async (c) => {
        const request = await pageRequest(c, path);
        if (page.method === 'POST' && !publicPaths.has(path)) {
          const { session } = c.var;
          if (!session || !app.sessions.csrfMatches(session, request.form.get('csrf') ?? undefined))
            throw new HttpError(403, CSRF_REFUSED);
        }
        return toResponse(await page.handle(app, request));
      });
    }
    const allow = [...new Set(pages.map((p) => p.method))].join(', ');
    http.all(path, () => {
      const reply = textReply(405, 'method not allowed');
      reply.headers = { Allow: allow };
      return toResponse(reply);
    });
  }

  http.notFound((c) =>
    isApi(c) ? apiError(new HttpError(404, 'no such route'), c) : errorResponse(c, 404, 'no such page'),
  );
  http.onError((err, c) => {
    if (isApi(c)) return apiError(err, c);
    if (err instanceof HttpError) return errorResponse(c, err.status, err.message);
    app.logger.error('admin request failed', { path: c.req.path, error: err });
    return errorResponse(c, 500, 'Something went wrong; the details are in the server log.');
  });
  return http;
}

export interface AdminServerOptions {
  config: Config;
  db: Db;
  client: Client;
  logger?: Logger;
  /** `npm start` makes up a password when ADMIN_PASSWORD is unset; `ptpass admin` refuses to. */
  generatePassword?: boolean;
  now?: () => Date;
}

export interface AdminServer {
  url: string;
  port: number;
  user: string;
  /** The password `npm start` generated, to print once; undefined when ADMIN_PASSWORD is set. */
  generatedPassword: string | undefined;
  close(): Promise<void>;
}

/** Serves the admin web on ADMIN_HOST:ADMIN_PORT (port 0: any free port, see `url`). */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel, { service: 'ptpass-admin' });
  const credentials = resolveAdminCredentials(config, {
    generatePassword: options.generatePassword ?? false,
  });
  if (!config.adminSessionSecret)
    logger.info('ADMIN_SESSION_SECRET is unset: sessions are signed with a random key and end on restart');
  const app: AdminApp = {
    config,
    db: options.db,
    schedules: {
      client: options.client,
      taskQueue: config.taskQueue,
      businessTimeZone: config.businessTimeZone,
    },
    credentials,
    sessions: new SessionKeeper(credentials.sessionSecret, config.adminSessionHours * 3_600_000),
    throttle: new LoginThrottle(),
    logger,
    now: options.now ?? (() => new Date()),
  };
  const http = createAdminHttp(app, mountApi);
  const server = serve({
    fetch: http.fetch,
    port: config.adminPort,
    hostname: config.adminHost,
    serverOptions: { headersTimeout: 20_000, requestTimeout: 30_000 },
  });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.adminHost.includes(':') ? `[${config.adminHost}]` : config.adminHost;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    user: credentials.user,
    generatedPassword: credentials.generated ? credentials.password : undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
