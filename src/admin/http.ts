import { generateCookie } from 'hono/cookie';
import type { Session } from './auth.ts';
import { Html } from './html.ts';

/**
 * The admin pages' small HTTP vocabulary: a request as the page handlers see it, a reply, and cookie helpers.
 * Hono routes and parses (src/admin/server.ts); the pages stay plain functions of (app, request).
 */

export interface AdminRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** Route parameters, in pattern order. */
  params: string[];
  /** The urlencoded body of a POST (empty otherwise). */
  form: URLSearchParams;
  cookies: Record<string, string>;
  remoteAddress: string;
  session?: Session;
  csrfToken?: string;
}

export interface Reply {
  status: number;
  body?: Html | string;
  contentType?: string;
  headers?: Record<string, string | string[]>;
}

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function redirect(location: string, headers: Record<string, string | string[]> = {}): Reply {
  return { status: 303, headers: { Location: location, ...headers }, body: '' };
}

export function htmlReply(body: Html, status = 200): Reply {
  return { status, body, contentType: 'text/html; charset=utf-8' };
}

export function textReply(status: number, text: string): Reply {
  return { status, body: `${text}\n`, contentType: 'text/plain; charset=utf-8' };
}

/** A `Set-Cookie` line from Hono's cookie helper: HttpOnly, SameSite=Strict, the whole site. */
export function serializeCookie(
  name: string,
  value: string,
  options: { maxAgeSeconds: number; secure: boolean },
): string {
  const maxAge = Math.max(0, Math.floor(options.maxAgeSeconds));
  return generateCookie(name, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'Strict',
    maxAge,
    expires: maxAge > 0 ? new Date(Date.now() + maxAge * 1000) : new Date(0),
    secure: options.secure,
  });
}

/** Whether the client is a browser that wants a page (a redirect to the login) rather than a status. */
export function wantsHtml(accept: string | undefined): boolean {
  return (accept ?? '').includes('text/html');
}

/** A same-site path to return to after the login; anything else becomes the home page. */
export function safeNextPath(next: string | null | undefined): string {
  if (!next || next.length > 300) return '/';
  if (!next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
  // Only printable ASCII path characters: no control characters or header tricks.
  if (!/^[\x21-\x7e]+$/.test(next)) return '/';
  return next;
}

export { Html };
