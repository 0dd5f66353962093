import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Config, ConfigError } from '../config.ts';

/**
 * Admin authentication: one operator account from configuration, sessions in an HMAC-signed cookie,
 * and CSRF tokens derived from the session. No session store: a cookie is valid while its signature
 * matches and it has not expired or been logged out (logouts are remembered until the cookie's expiry).
 */

export interface AdminCredentials {
  user: string;
  password: string;
  /** True when `npm start` made the password up because ADMIN_PASSWORD is unset. */
  generated: boolean;
  sessionSecret: Buffer;
}

export function resolveAdminCredentials(
  config: Config,
  options: { generatePassword: boolean },
): AdminCredentials {
  let password = config.adminPassword;
  let generated = false;
  if (!password) {
    if (!options.generatePassword) {
      throw new ConfigError(
        'ADMIN_PASSWORD is not set: the admin web serves no page without a password (at least 12 characters)',
      );
    }
    password = randomBytes(15).toString('base64url');
    generated = true;
  }
  const sessionSecret = config.adminSessionSecret
    ? Buffer.from(config.adminSessionSecret, 'utf8')
    : randomBytes(32);
  return { user: config.adminUser, password, generated, sessionSecret };
}

// Both sides are hashed with a key of this process first, so the comparison takes the same time whatever
// the lengths and contents of the two strings.
const COMPARE_KEY = randomBytes(32);
function digest(text: string): Buffer {
  return createHmac('sha256', COMPARE_KEY).update(text, 'utf8').digest();
}

/** Constant-time check of a login; user and password are both always compared. */
export function credentialsMatch(credentials: AdminCredentials, user: string, password: string): boolean {
  const userOk = timingSafeEqual(digest(user), digest(credentials.user));
  const passwordOk = timingSafeEqual(digest(password), digest(credentials.password));
  return userOk && passwordOk;
}

export interface Session {
  user: string;
  /** Random per login: identifies the session for CSRF tokens and logout. */
  id: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'ptpass_admin';
export const LOGIN_COOKIE = 'ptpass_login';

export class SessionKeeper {
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private sign(purpose: string, payload: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}:${payload}`).digest('base64url');
  }

  private signatureMatches(purpose: string, payload: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(purpose, payload));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  issue(user: string): { session: Session; cookie: string } {
    const session: Session = {
      user,
      id: randomBytes(16).toString('base64url'),
      expiresAt: this.now() + this.ttlMs,
    };
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return { session, cookie: `${payload}.${this.sign('session', payload)}` };
  }

  /** The session a cookie carries, or undefined when it is forged, expired or logged out. */
  verify(cookie: string | undefined): Session | undefined {
    if (!cookie) return undefined;
    const [payload, signature, extra] = cookie.split('.');
    if (!payload || !signature || extra !== undefined) return undefined;
    if (!this.signatureMatches('session', payload, signature)) return undefined;
    let session: Session;
    try {
      session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
    } catch {
      return undefined;
    }
    if (typeof session.expiresAt !== 'number' || session.expiresAt <= this.now()) return undefined;
    if (typeof session.id !== 'string' || this.revoked.has(session.id)) return undefined;
    return session;
  }

  revoke(session: Session): void {
    const now = this.now();
    for (const [id, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(id);
    this.revoked.set(session.id, session.expiresAt);
  }

  csrfToken(session: Session): string {
    return this.sign('csrf', session.id);
  }

  csrfMatches(session: Session, token: string | undefined): boolean {
    return typeof token === 'string' && this.signatureMatches('csrf', session.id, token);
  }

  /** The login form's token, tied to a random cookie set with the form (login CSRF). */
  loginToken(nonce: string): string {
    return this.sign('login', nonce);
  }

  loginTokenMatches(nonce: string | undefined, token: string | undefined): boolean {
    return Boolean(nonce) && typeof token === 'string' && this.signatureMatches('login', nonce!, token);
  }
}

/** Slows down password guessing: after `limit` failures from one address, logins wait out the window. */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  blocked(address: string): boolean {
    const entry = this.failures.get(address);
    if (!entry) return false;
    if (this.now() - entry.since > this.windowMs) {
      this.failures.delete(address);
      return false;
    }
    return entry.count >= this.limit;
  }

  fail(address: string): void {
    const entry = this.failures.get(address);
    if (!entry || this.now() - entry.since > this.windowMs)
      this.failures.set(address, { count: 1, since: this.now() });
    else entry.count += 1;
  }

  succeed(address: string): void {
    this.failures.delete(address);
  }
}
