import type { Command } from '../command.ts';
import { adminCommand } from './admin.ts';
import { dbMigrateCommand } from './db.ts';
import { grantCommand } from './grant.ts';
import { jobRunCommand, jobsListCommand } from './job.ts';
import { notificationsListCommand, notificationsRetryCommand } from './notifications.ts';
import { runsListCommand, runsRestartCommand, runsShowCommand, runsStopCommand } from './runs.ts';
import { scheduleCommands } from './schedules.ts';
import { startCommand } from './start.ts';
import { statsExportCommand, statsShowCommand } from './stats.ts';

/** Every `ptpass` subcommand. Add a command here and it gets --help, --json and error handling. */
export const COMMANDS: Command[] = [
  startCommand,
  adminCommand,
  jobRunCommand,
  jobsListCommand,
  runsListCommand,
  runsShowCommand,
  runsRestartCommand,
  runsStopCommand,
  ...scheduleCommands,
  dbMigrateCommand,
  statsShowCommand,
  statsExportCommand,
  grantCommand,
  notificationsListCommand,
  notificationsRetryCommand,
];
