import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { createLogger, type Logger } from '../logger.ts';
import type { AdminApp } from './app.ts';
import { adminPage } from './app.ts';
import { LoginThrottle, resolveAdminCredentials, SESSION_COOKIE, SessionKeeper } from './auth.ts';
import { html } from './html.ts';
import {
  type AdminRequest,
  HttpError,
  htmlReply,
  parseCookies,
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
 * The admin web: server-rendered pages on node:http. Every page needs a login; every POST needs the
 * session's CSRF token; every response carries a strict Content-Security-Policy (no script at all).
 */

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** Served without a login (the login itself and its stylesheet). */
  public?: boolean;
  handle(app: AdminApp, req: AdminRequest): Reply | Promise<Reply>;
}

const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/admin\.css$/, public: true, handle: stylesheet },
  { method: 'GET', pattern: /^\/healthz$/, public: true, handle: () => textReply(200, 'ok') },
  // Browsers ask for it on every page; there is none.
  { method: 'GET', pattern: /^\/favicon\.ico$/, public: true, handle: () => ({ status: 204 }) },
  { method: 'GET', pattern: /^\/login$/, public: true, handle: showLogin },
  { method: 'POST', pattern: /^\/login$/, public: true, handle: submitLogin },
  { method: 'POST', pattern: /^\/logout$/, handle: logout },
  { method: 'GET', pattern: /^\/$/, handle: () => redirect('/runs') },
  { method: 'GET', pattern: /^\/dashboard$/, handle: dashboardPage },
  { method: 'GET', pattern: /^\/runs$/, handle: runsPage },
  { method: 'GET', pattern: /^\/runs\/([^/]+)$/, handle: runPage },
  { method: 'GET', pattern: /^\/schedules$/, handle: schedulesPage },
  { method: 'POST', pattern: /^\/schedules\/([^/]+)\/([^/]+)$/, handle: scheduleAction },
  { method: 'GET', pattern: /^\/members$/, handle: membersPage },
  { method: 'GET', pattern: /^\/members\/([^/]+)$/, handle: memberPage },
  { method: 'GET', pattern: /^\/bulk-passes$/, handle: bulkPassesPage },
  { method: 'POST', pattern: /^\/bulk-passes$/, handle: createBulkPass },
];

/** Paths of every page, for tests and docs: each one requires a login. */
export const PROTECTED_PAGES = ['/', '/dashboard', '/runs', '/schedules', '/members', '/bulk-passes'];

const MAX_BODY_BYTES = 16 * 1024;

function stylesheet(): Reply {
  return {
    status: 200,
    body: STYLESHEET,
    contentType: 'text/css; charset=utf-8',
    headers: { 'Cache-Control': 'max-age=300' },
  };
}

function securityHeaders(config: Config): Record<string, string> {
  return {
    'Content-Security-Policy':
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
    ...(config.adminCookieSecure ? { 'Strict-Transport-Security': 'max-age=31536000' } : {}),
  };
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    throw new HttpError(415, 'forms must be sent as application/x-www-form-urlencoded');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'the form is too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A browser's form post names its origin; one from another site is refused before anything runs. (Pages
 * send `Referrer-Policy: same-origin`: with `no-referrer` Chromium would send `Origin: null` instead.)
 */
function crossSite(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return origin === 'null';
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

export async function handleRequest(app: AdminApp, req: IncomingMessage): Promise<Reply> {
  const url = new URL(req.url ?? '/', 'http://admin.invalid');
  const method = req.method ?? 'GET';
  const cookies = parseCookies(req.headers.cookie);
  const session = app.sessions.verify(cookies[SESSION_COOKIE]);
  const request: AdminRequest = {
    method,
    url,
    headers: req.headers,
    params: [],
    form: new URLSearchParams(),
    cookies,
    remoteAddress: req.socket.remoteAddress ?? 'unknown',
    session,
    csrfToken: session ? app.sessions.csrfToken(session) : undefined,
  };
  const matching = ROUTES.filter((r) => r.pattern.test(url.pathname));
  const route = matching.find((r) => r.method === method);
  const isPublic = route?.public ?? matching.some((r) => r.public);

  // Nothing — not even whether a page exists — is answered without a login.
  if (!isPublic && !session) {
    req.resume();
    if (!wantsHtml(req.headers)) return textReply(401, 'login required');
    const next = method === 'GET' ? `?next=${encodeURIComponent(url.pathname + url.search)}` : '';
    return redirect(`/login${next}`);
  }
  if (!route) {
    req.resume();
    if (matching.length > 0) {
      const reply = textReply(405, 'method not allowed');
      reply.headers = { Allow: [...new Set(matching.map((r) => r.method))].join(', ') };
      return reply;
    }
    throw new HttpError(404, 'no such page');
  }
  request.params = (route.pattern.exec(url.pathname) ?? []).slice(1).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return '';
    }
  });
  if (method === 'POST') {
    if (crossSite(req)) {
      req.resume();
      throw new HttpError(403, 'a form from another site was refused; nothing was changed');
    }
    request.form = await readForm(req);
    if (
      !route.public &&
      (!session || !app.sessions.csrfMatches(session, request.form.get('csrf') ?? undefined))
    )
      throw new HttpError(
        403,
        'the form’s security token is missing or wrong; nothing was changed — reload the page and try again',
      );
  }
  return route.handle(app, request);
}

const ERROR_TITLES: Record<number, string> = {
  400: 'Not accepted',
  403: 'Refused',
  404: 'Not found',
  413: 'Not accepted',
  415: 'Not accepted',
};

function errorReply(app: AdminApp, req: IncomingMessage, status: number, message: string): Reply {
  const session = app.sessions.verify(parseCookies(req.headers.cookie)[SESSION_COOKIE]);
  if (!session || !wantsHtml(req.headers)) return textReply(status, message);
  const request = {
    session,
    csrfToken: app.sessions.csrfToken(session),
  } as AdminRequest;
  return htmlReply(
    adminPage(app, request, {
      title: ERROR_TITLES[status] ?? 'Something went wrong',
      error: message,
      body: html`<p><a href="/runs">Back to the runs</a></p>`,
    }),
    status,
  );
}

function send(res: ServerResponse, config: Config, reply: Reply, head: boolean): void {
  const headers: Record<string, string | string[]> = { ...securityHeaders(config), ...reply.headers };
  const body = reply.body === undefined ? '' : String(reply.body);
  if (reply.contentType) headers['Content-Type'] = reply.contentType;
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(reply.status, headers);
  res.end(head ? undefined : body);
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
  const server = createServer((req, res) => {
    handleRequest(app, req)
      .catch((err: unknown) => {
        if (err instanceof HttpError) return errorReply(app, req, err.status, err.message);
        logger.error('admin request failed', { path: req.url?.split('?')[0], error: err });
        return errorReply(app, req, 500, 'Something went wrong; the details are in the server log.');
      })
      .then((reply) => send(res, config, reply, req.method === 'HEAD'))
      .catch((err: unknown) => {
        logger.error('admin response failed', { error: err });
        res.destroy();
      });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.adminPort, config.adminHost, () => {
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
        server.closeAllConnections();
      }),
  };
}
