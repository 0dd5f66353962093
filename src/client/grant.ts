import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Db } from '../db/client.ts';
import {
  findGroupMembership,
  findPackage,
  findUserStatuses,
  insertAdHocGroup,
  insertBulkPass,
} from '../db/queries/bulk-passes.ts';
import { jobWorkflowId, normaliseAsOf } from '../jobs/definition.ts';
import { issueBulkPassesJob } from '../jobs/issue-bulk-passes.ts';
import { formatBusinessTime, localParts, parseInstant, zonedTimeToInstant } from '../time.ts';

/**
 * A one-off grant: a bulk pass for a group (or for listed users, through a group made for them), issued
 * at once or at its chosen time by a workflow of its own (`startGrantIssue`). Everything is checked before
 * anything is written; the checks and the inserts share one transaction, so a grant is created whole or
 * not at all. `ptpass grant`, the admin form and the HTTP API all go through this file.
 */

/** A grant option that cannot be read; the message names the option as `ptpass grant` spells it. */
export class GrantInputError extends Error {
  override name = 'GrantInputError';
}

function requireString(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new GrantInputError(`--${name} is required`);
  return value;
}

function optionalString(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new GrantInputError(`--${name} needs a value`);
  return value;
}

const ID = /^[1-9]\d{0,15}$/;
/** Sessions per pass: bounded by the `integer` columns that hold it (bulk_passes.count, passes.remaining_count). */
export const MAX_SESSION_COUNT = 2_147_483_647;

function parseId(text: string, what: string): number {
  if (!ID.test(text.trim()) || !Number.isSafeInteger(Number(text.trim())))
    throw new GrantInputError(`${what} '${text}' is not an ID (a whole number above 0)`);
  return Number(text.trim());
}

function parseTime(values: Record<string, unknown>, name: string, timeZone: string): Date | undefined {
  const text = optionalString(values, name);
  if (text === undefined) return undefined;
  const parsed = parseInstant(text, timeZone);
  if (!parsed) {
    throw new GrantInputError(
      `--${name} '${text}' is not an ISO-8601 time such as 2026-12-01T10:00 (read in ${timeZone}) or 2026-12-01T01:00:00Z`,
    );
  }
  return parsed;
}

/**
 * Turns grant options (`ptpass grant` flags, the admin form's fields, by flag name) into a request; every
 * problem that needs no database is found here, with the message both surfaces show.
 */
export function parseGrantOptions(values: Record<string, unknown>, timeZone: string): GrantRequest {
  const packageId = parseId(requireString(values, 'package'), '--package');
  const group = optionalString(values, 'group');
  const usersText = optionalString(values, 'users');
  if (group !== undefined && usersText !== undefined)
    throw new GrantInputError('give --group or --users, not both');
  if (group === undefined && usersText === undefined)
    throw new GrantInputError('who gets the passes? give --group <id> or --users <id,id,...>');
  const target =
    group !== undefined
      ? { groupId: parseId(group, '--group') }
      : {
          userIds: usersText!
            .split(',')
            .filter((part) => part.trim() !== '')
            .map((part) => parseId(part, 'user')),
        };
  const countText = optionalString(values, 'count');
  if (countText !== undefined && !/^-?\d+$/.test(countText.trim()))
    throw new GrantInputError(
      `--count must be a whole number from 1 to ${MAX_SESSION_COUNT} (got '${countText}')`,
    );
  const request: GrantRequest = { packageId, target };
  const startedAt = parseTime(values, 'start', timeZone);
  const endedAt = parseTime(values, 'end', timeZone);
  const issueAt = parseTime(values, 'at', timeZone);
  if (startedAt) request.startedAt = startedAt;
  if (endedAt) request.endedAt = endedAt;
  if (issueAt) request.issueAt = issueAt;
  if (countText !== undefined) request.count = Number(countText.trim());
  return request;
}

export interface GrantRequest {
  packageId: number;
  target: { groupId: number } | { userIds: number[] };
  /** When the passes begin; defaults to the issue time. */
  startedAt?: Date;
  /** When the passes end; defaults to the package period from the start (unlimited without one). */
  endedAt?: Date;
  /** Sessions per pass; defaults to the package's. Refused for a package with unlimited sessions. */
  count?: number;
  /** When to issue; defaults to now. At or before now, the caller runs the issuance at once. */
  issueAt?: Date;
}

export interface Grant {
  bulkPassId: number;
  groupId: number;
  /** True when the group was made for this grant's listed users. */
  adHocGroup: boolean;
  packageId: number;
  startedAt: Date;
  endedAt: Date | null;
  /** Sessions per pass; null means unlimited. */
  count: number | null;
  /** Days a pass lasts when no end was given; null means unlimited. */
  periodDays: number | null;
  issueAt: Date;
  /** Issue now (true) or leave it for the schedule. */
  runNow: boolean;
  activeMembers: number;
  inactiveMembers: number;
}

export type GrantOutcome = { ok: true; grant: Grant } | { ok: false; problem: string };

/** An instant as the studio reads it, zone named: `2026-11-22 10:00:00 (Asia/Seoul)`. */
export function businessTime(instant: Date, timeZone: string): string {
  return `${formatBusinessTime(instant, timeZone)} (${timeZone})`;
}

/** When the grant is issued: its --at, else now (whole seconds, as a job's as-of). */
export function grantIssueAt(request: Pick<GrantRequest, 'issueAt'>, now: Date): Date {
  return normaliseAsOf(request.issueAt ?? now);
}

/**
 * Checks that need no database; the message names the option, and its times are shown in `timeZone`
 * (BUSINESS_TIMEZONE, as every surface shows times).
 */
export function checkGrantShape(request: GrantRequest, now: Date, timeZone: string): string | undefined {
  if (
    request.count !== undefined &&
    (!Number.isInteger(request.count) || request.count <= 0 || request.count > MAX_SESSION_COUNT)
  ) {
    return `--count must be a whole number from 1 to ${MAX_SESSION_COUNT} (got '${request.count}')`;
  }
  if ('userIds' in request.target && request.target.userIds.length === 0) return '--users lists no users';
  const startedAt = request.startedAt ?? grantIssueAt(request, now);
  if (request.endedAt && request.endedAt.getTime() <= startedAt.getTime()) {
    return `--end ${businessTime(request.endedAt, timeZone)} is not after the start ${businessTime(startedAt, timeZone)}`;
  }
  if (request.endedAt && request.endedAt.getTime() <= now.getTime()) {
    return `--end ${businessTime(request.endedAt, timeZone)} has already passed; the passes would be over before they are used`;
  }
  return undefined;
}

/** `timeZone` is BUSINESS_TIMEZONE: the group made for listed users is named with the time as the studio reads it. */
export async function createGrant(
  db: Db,
  request: GrantRequest,
  now: Date,
  timeZone: string,
): Promise<GrantOutcome> {
  const shape = checkGrantShape(request, now, timeZone);
  if (shape) return { ok: false, problem: shape };
  const issueAt = grantIssueAt(request, now);
  const startedAt = request.startedAt ?? issueAt;

  return db.transaction(async (tx): Promise<GrantOutcome> => {
    const pkg = await findPackage(tx, request.packageId);
    if (!pkg) return { ok: false, problem: `package ${request.packageId} does not exist` };
    // The end the package's period gives (no --end): refused as an explicit one would be when it has passed.
    if (!request.endedAt && pkg.periodDays !== null) {
      const local = localParts(startedAt, timeZone);
      const end = zonedTimeToInstant({ ...local, day: local.day + pkg.periodDays }, timeZone);
      // Over by the time they are issued (now, or a later --at).
      if (end.getTime() <= Math.max(now.getTime(), issueAt.getTime()))
        return {
          ok: false,
          problem: `the passes would end at ${businessTime(end, timeZone)} (the start plus package ${pkg.id}'s ${pkg.periodDays} days), which is before they would be issued; give a later --start or an --end`,
        };
    }
    if (request.count !== undefined && pkg.sessionCount === null) {
      return {
        ok: false,
        problem: `package ${pkg.id} has unlimited sessions; --count cannot be given for it (leave it out, or pick a package with sessions)`,
      };
    }

    let groupId: number;
    let active: number;
    let inactive: number;
    let adHocGroup = false;
    if ('groupId' in request.target) {
      const group = await findGroupMembership(tx, request.target.groupId);
      if (!group) return { ok: false, problem: `group ${request.target.groupId} does not exist` };
      if (group.active + group.inactive === 0) {
        return { ok: false, problem: `group ${group.id} has no members` };
      }
      if (group.active === 0) {
        return {
          ok: false,
          problem: `group ${group.id} has no ACTIVE members (${group.inactive} INACTIVE); nobody would get a pass`,
        };
      }
      ({ id: groupId, active, inactive } = group);
    } else {
      const ids = [...new Set(request.target.userIds)];
      const found = new Map((await findUserStatuses(tx, ids)).map((u) => [u.id, u.status]));
      const unknown = ids.filter((id) => !found.has(id));
      if (unknown.length) {
        return { ok: false, problem: `no such user${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}` };
      }
      const lapsed = ids.filter((id) => found.get(id) === 'INACTIVE');
      if (lapsed.length) {
        return {
          ok: false,
          problem: `user${lapsed.length > 1 ? 's' : ''} ${lapsed.join(', ')} ${lapsed.length > 1 ? 'are' : 'is'} INACTIVE and would get no pass; leave them out or reactivate them first`,
        };
      }
      groupId = await insertAdHocGroup(
        tx,
        `grant of package ${pkg.id} to ${ids.length} user${ids.length > 1 ? 's' : ''} at ${businessTime(issueAt, timeZone)}`,
        ids,
      );
      adHocGroup = true;
      active = ids.length;
      inactive = 0;
    }

    const bulkPassId = await insertBulkPass(tx, {
      packageId: pkg.id,
      groupId,
      count: request.count ?? null,
      startedAt,
      endedAt: request.endedAt ?? null,
      issueAt,
    });
    return {
      ok: true,
      grant: {
        bulkPassId,
        groupId,
        adHocGroup,
        packageId: pkg.id,
        startedAt,
        endedAt: request.endedAt ?? null,
        count: request.count ?? pkg.sessionCount,
        periodDays: request.endedAt ? null : pkg.periodDays,
        issueAt,
        runNow: issueAt.getTime() <= now.getTime(),
        activeMembers: active,
        inactiveMembers: inactive,
      },
    };
  });
}

export interface GrantIssue {
  workflowId: string;
  runId: string;
  /** False when the grant's workflow was already there (a repeated call): nothing new was started. */
  started: boolean;
}

/**
 * Starts the grant's own workflow (`issueBulkPassAt`): it waits on a durable timer until the issue time and
 * then issues that bulk pass. Its ID is the issue-bulk-passes instance of the bulk pass as of its issue
 * time — the ID a run at once would have — so a second start for the same grant finds the first.
 * Should it fail (Temporal unreachable), the bulk pass stays READY and the hourly schedule issues it.
 */
export async function startGrantIssue(
  deps: { client: Client; taskQueue: string },
  grant: Pick<Grant, 'bulkPassId' | 'issueAt'>,
): Promise<GrantIssue> {
  const issueAt = normaliseAsOf(grant.issueAt);
  const key = issueBulkPassesJob.instanceKey?.({ bulkPassId: grant.bulkPassId });
  const workflowId = `${jobWorkflowId(issueBulkPassesJob.name, issueAt)}-${key}`;
  try {
    const handle = await deps.client.workflow.start('issueBulkPassAt', {
      taskQueue: deps.taskQueue,
      workflowId,
      args: [{ bulkPassId: grant.bulkPassId, issueAt: issueAt.toISOString() }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      workflowIdConflictPolicy: 'FAIL',
    });
    return { workflowId, runId: handle.firstExecutionRunId, started: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const description = await deps.client.workflow.getHandle(workflowId).describe();
    return { workflowId, runId: description.runId, started: false };
  }
}
