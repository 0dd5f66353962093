import type { Command } from '../command.ts';
import { dbMigrateCommand } from './db.ts';
import { jobRunCommand, jobsListCommand } from './job.ts';
import { notificationsListCommand, notificationsRetryCommand } from './notifications.ts';
import { runsListCommand, runsShowCommand } from './runs.ts';
import { startCommand } from './start.ts';

/** Every `ptpass` subcommand. Add a command here and it gets --help, --json and error handling. */
export const COMMANDS: Command[] = [
  startCommand,
  jobRunCommand,
  jobsListCommand,
  runsListCommand,
  runsShowCommand,
  dbMigrateCommand,
  notificationsListCommand,
  notificationsRetryCommand,
];
