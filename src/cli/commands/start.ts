import type { Command } from '../command.ts';

export const startCommand: Command = {
  words: ['start'],
  summary: 'Start the whole stack: Temporal dev server + Web UI, database, migrations and the worker.',
  details: [
    'Without TEMPORAL_ADDRESS a Temporal dev server is started (state kept in PTPASS_DATA_DIR/temporal.db);',
    'without DATABASE_URL an embedded PostgreSQL keeps its files in PTPASS_DATA_DIR/postgres and listens on',
    '127.0.0.1:PTPASS_DB_PORT, where the other ptpass commands find it. Ctrl-C stops everything.',
  ].join('\n'),
  options: {
    demo: { type: 'boolean', description: 'Seed a small demo studio (only into an empty database)' },
  },
  async run({ values }, ctx) {
    const { startStack } = await import('../../stack/start.ts');
    await startStack(ctx.config, { demo: values.demo === true, out: ctx.progress });
    return undefined;
  },
};
