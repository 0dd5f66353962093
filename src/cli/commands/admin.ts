import type { startAdminServer } from '../../admin/server.ts';
import { ConfigError } from '../../config.ts';
import { createLogger } from '../../logger.ts';
import { type Command, UsageError } from '../command.ts';

/** `ptpass admin`: the admin web alone, for deployments that run the worker elsewhere. */
export const adminCommand: Command = {
  words: ['admin'],
  summary: 'Serve the admin web on ADMIN_HOST:ADMIN_PORT (needs ADMIN_PASSWORD); Ctrl-C stops it.',
  details: [
    'The pages `npm start` serves, without the worker: runs, schedules and members, over the database of',
    'DATABASE_URL (or the embedded one of `npm start`) and the Temporal of TEMPORAL_ADDRESS. Every page needs',
    'a login as ADMIN_USER with ADMIN_PASSWORD; set ADMIN_SESSION_SECRET so sessions survive a restart and',
    'ADMIN_COOKIE_SECURE=true behind HTTPS. The database is not migrated here: the worker does that.',
  ].join('\n'),
  options: {},
  async run(_input, ctx) {
    // Refuse before connecting to anything: a deployment must choose its password.
    if (!ctx.config.adminPassword)
      throw new UsageError(
        'ADMIN_PASSWORD is not set: `ptpass admin` serves no page without a password (at least 12 characters)',
      );
    const { startAdminServer } = await import('../../admin/server.ts');
    const logger = createLogger(ctx.config.logLevel, { service: 'ptpass-admin' });
    const db = await ctx.db();
    const client = await ctx.temporal();
    let server: Awaited<ReturnType<typeof startAdminServer>>;
    try {
      server = await startAdminServer({ config: ctx.config, db, client, logger });
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message);
      throw err;
    }
    ctx.progress(`Admin web on ${server.url} (user '${server.user}'). Press Ctrl-C to stop.`);
    const signal = await new Promise<string>((resolve) => {
      for (const name of ['SIGINT', 'SIGTERM'] as const) process.once(name, () => resolve(name));
    });
    ctx.progress(`${signal}: stopping the admin web`);
    await server.close();
    return undefined;
  },
};
