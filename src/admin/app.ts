import type { ScheduleDeps } from '../client/schedules.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../logger.ts';
import type { AdminCredentials, LoginThrottle, SessionKeeper } from './auth.ts';
import type { Html } from './html.ts';
import type { AdminRequest } from './http.ts';
import { type PageFrame, page } from './layout.ts';

/** What every admin page handler is given. */
export interface AdminApp {
  config: Config;
  db: Db;
  schedules: ScheduleDeps;
  credentials: AdminCredentials;
  sessions: SessionKeeper;
  throttle: LoginThrottle;
  logger: Logger;
  now(): Date;
}

/** A page for the logged-in operator: the frame with navigation, logout and the business time zone. */
export function adminPage(
  app: AdminApp,
  req: AdminRequest,
  frame: Omit<PageFrame, 'user' | 'timeZone'>,
): Html {
  return page({
    ...frame,
    timeZone: app.config.businessTimeZone,
    user: req.session && req.csrfToken ? { name: req.session.user, csrfToken: req.csrfToken } : undefined,
  });
}
