import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The processes `npm start` runs beside itself (the embedded PostgreSQL, the Temporal dev server), seen from
 * outside: whether one runs, what its command line is, and how to stop it. /proc is Linux's; elsewhere a
 * command line is unknown and leftovers are not looked for.
 */

/** Whether a process runs (a zombie, dead but not yet reaped, does not). */
export function isAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it runs, as another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!existsSync('/proc')) return true;
  return processStat(pid)?.state !== 'Z';
}

/** A process's state (`Z`: a zombie), parent and process group, from /proc/<pid>/stat; undefined when gone. */
export function processStat(pid: number): { state: string; ppid: number; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the parenthesised name, which may itself hold spaces and parentheses.
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state ?? '', ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** A running process's working directory; undefined when it is gone or unknown. */
export function workingDirectory(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** A running process's arguments, the program first; undefined when it is gone or unknown. */
export function commandLine(pid: number): string[] | undefined {
  if (!isAlive(pid)) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** The running processes whose command line `matches` (none where there is no /proc). */
export function findProcesses(matches: (argv: string[]) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .map(Number)
    .filter((pid) => {
      const argv = commandLine(pid);
      return argv !== undefined && matches(argv);
    });
}

/** Sends each signal in turn, waiting up to its time for the process to go. False if it still runs. */
export async function stopProcess(pid: number, steps: Array<[NodeJS.Signals, number]>): Promise<boolean> {
  for (const [signal, waitMs] of steps) {
    if (!isAlive(pid)) return true;
    try {
      process.kill(pid, signal);
    } catch {
      return !isAlive(pid);
    }
    const deadline = Date.now() + waitMs;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}
