import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AdminApp } from '../app.ts';
import { credentialsMatch, LOGIN_COOKIE, SESSION_COOKIE } from '../auth.ts';
import { html } from '../html.ts';
import {
  type AdminRequest,
  htmlReply,
  type Reply,
  redirect,
  safeNextPath,
  serializeCookie,
} from '../http.ts';
import { page } from '../layout.ts';

/** Login and logout. The login form carries its own CSRF token, bound to a short-lived cookie. */

const loginForm = z.object({
  user: z.string().max(200),
  password: z.string().max(1000),
  next: z.string().max(300).optional(),
});

function loginPage(
  app: AdminApp,
  options: { next: string; error?: string; status?: number; notice?: string },
): Reply {
  const nonce = randomBytes(16).toString('base64url');
  const token = app.sessions.loginToken(nonce);
  const reply = htmlReply(
    page({
      title: 'Log in',
      timeZone: app.config.businessTimeZone,
      error: options.error,
      notice: options.notice,
      body: html`<form class="login" method="post" action="/login">
  <input type="hidden" name="csrf" value="${token}">
  <input type="hidden" name="next" value="${options.next}">
  <label>User <input name="user" autocomplete="username" required maxlength="200"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="1000"></label>
  <button type="submit">Log in</button>
</form>`,
    }),
    options.status ?? 200,
  );
  reply.headers = {
    'Set-Cookie': serializeCookie(LOGIN_COOKIE, nonce, {
      maxAgeSeconds: 3600,
      secure: app.config.adminCookieSecure,
    }),
  };
  return reply;
}

export function showLogin(app: AdminApp, req: AdminRequest): Reply {
  if (req.session) return redirect(safeNextPath(req.url.searchParams.get('next')));
  return loginPage(app, {
    next: safeNextPath(req.url.searchParams.get('next')),
    notice: req.url.searchParams.get('bye') === '1' ? 'You are logged out.' : undefined,
  });
}

export function submitLogin(app: AdminApp, req: AdminRequest): Reply {
  const next = safeNextPath(req.form.get('next'));
  if (!app.sessions.loginTokenMatches(req.cookies[LOGIN_COOKIE], req.form.get('csrf') ?? undefined)) {
    return loginPage(app, {
      next,
      status: 403,
      error: 'The login form expired or did not come from this site; please try again.',
    });
  }
  if (app.throttle.blocked(req.remoteAddress)) {
    app.logger.warn('admin login refused: too many failures', { address: req.remoteAddress });
    return loginPage(app, { next, status: 429, error: 'Too many failed logins; wait 15 minutes.' });
  }
  const form = loginForm.safeParse(Object.fromEntries(req.form));
  if (!form.success || !credentialsMatch(app.credentials, form.data.user, form.data.password)) {
    app.throttle.fail(req.remoteAddress);
    app.logger.warn('admin login failed', { address: req.remoteAddress });
    return loginPage(app, { next, status: 401, error: 'Wrong user or password.' });
  }
  app.throttle.succeed(req.remoteAddress);
  const { cookie } = app.sessions.issue(app.credentials.user);
  app.logger.info('admin logged in', { user: app.credentials.user, address: req.remoteAddress });
  const secure = app.config.adminCookieSecure;
  return redirect(next, {
    'Set-Cookie': [
      serializeCookie(SESSION_COOKIE, cookie, { maxAgeSeconds: app.config.adminSessionHours * 3600, secure }),
      serializeCookie(LOGIN_COOKIE, '', { maxAgeSeconds: 0, secure }),
    ],
  });
}

export function logout(app: AdminApp, req: AdminRequest): Reply {
  if (req.session) app.sessions.revoke(req.session);
  return redirect('/login?bye=1', {
    'Set-Cookie': serializeCookie(SESSION_COOKIE, '', {
      maxAgeSeconds: 0,
      secure: app.config.adminCookieSecure,
    }),
  });
}
