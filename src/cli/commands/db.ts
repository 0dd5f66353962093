import { resolveDatabaseUrl } from '../../config.ts';
import type { Command } from '../command.ts';

export const dbMigrateCommand: Command = {
  words: ['db', 'migrate'],
  summary: 'Apply the committed SQL migrations (the worker and `npm start` also do this at start-up).',
  options: {},
  async run(_input, ctx) {
    const { migrateDatabase } = await import('../../db/client.ts');
    await migrateDatabase({ url: resolveDatabaseUrl(ctx.config).url });
    return { json: { migrated: true }, text: 'migrations applied' };
  },
};
