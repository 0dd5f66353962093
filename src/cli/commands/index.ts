import type { Command } from '../command.ts';
import { adminCommand } from './admin.ts';
import { dbMigrateCommand } from './db.ts';
import { jobRunCommand, jobsListCommand } from './job.ts';
import { runsListCommand, runsShowCommand } from './runs.ts';
import { scheduleCommands } from './schedules.ts';
import { startCommand } from './start.ts';

/** Every `ptpass` subcommand. Add a command here and it gets --help, --json and error handling. */
export const COMMANDS: Command[] = [
  startCommand,
  adminCommand,
  jobRunCommand,
  jobsListCommand,
  runsListCommand,
  runsShowCommand,
  ...scheduleCommands,
  dbMigrateCommand,
];
