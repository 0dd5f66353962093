import type { IncomingHttpHeaders } from 'node:http';
import type { Session } from './auth.ts';
import { Html } from './html.ts';

/** The admin web's small HTTP vocabulary: a parsed request, a reply, and cookie helpers. */

export interface AdminRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
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

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name && !(name in cookies)) {
      try {
        cookies[name] = decodeURIComponent(value);
      } catch {
        // A malformed cookie is ignored, as if absent.
      }
    }
  }
  return cookies;
}

export function serializeCookie(
  name: string,
  value: string,
  options: { maxAgeSeconds: number; secure: boolean },
): string {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
  ];
  if (options.maxAgeSeconds > 0)
    parts.push(`Expires=${new Date(Date.now() + options.maxAgeSeconds * 1000).toUTCString()}`);
  else parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

/** Whether the client is a browser that wants a page (a redirect to the login) rather than a status. */
export function wantsHtml(headers: IncomingHttpHeaders): boolean {
  return (headers.accept ?? '').includes('text/html');
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
