import {
  businessTime,
  checkGrantShape,
  createGrant,
  type Grant,
  GrantInputError,
  grantIssueAt,
  MAX_SESSION_COUNT,
  parseGrantOptions,
  startGrantIssue,
} from '../../client/grant.ts';
import type { LaunchOutcome } from '../../client/launch-job.ts';
import { workflowUrl } from '../../config.ts';
import { getBulkPass } from '../../db/queries/bulk-passes.ts';
import { issueBulkPassesJob } from '../../jobs/issue-bulk-passes.ts';
import { type Command, UsageError } from '../command.ts';

export const grantCommand: Command = {
  words: ['grant'],
  summary: 'Give a group (or listed users) one pass each of a package, now or at a chosen time.',
  details: [
    'Creates a bulk pass. Without --at (or with --at now or earlier) its passes are issued at once through the',
    'issue-bulk-passes job; with a future --at a workflow of its own waits on a durable timer and issues them',
    'then (the hourly issue-bulk-passes schedule is the safety net); --wait goes only with a grant for now (a',
    'future --at prints the command to follow its run). Each ACTIVE member gets exactly one pass; INACTIVE',
    'members of a group are skipped and counted. --users makes a group of the listed users.',
    "Sessions per pass: --count, else the package's (refused for a package with unlimited sessions).",
    'End: --end, else the start plus the package period in business days (unlimited without a period).',
    'Every check runs before anything is written; a bad grant writes nothing (exit 2).',
    'Times without an offset are read in BUSINESS_TIMEZONE.',
  ].join('\n'),
  options: {
    package: { type: 'string', placeholder: 'ID', description: 'The package to grant (required)' },
    group: { type: 'string', placeholder: 'ID', description: 'Grant to every ACTIVE member of this group' },
    users: {
      type: 'string',
      placeholder: 'ID,ID,...',
      description: 'Grant to these users (all ACTIVE)',
      maxLength: 1_000_000,
    },
    start: {
      type: 'string',
      placeholder: 'ISO',
      description: 'When the passes begin (default: the issue time)',
    },
    end: { type: 'string', placeholder: 'ISO', description: 'When the passes end (default: package period)' },
    count: {
      type: 'string',
      placeholder: 'N',
      description: "Sessions per pass (default: the package's)",
      integer: { min: 1, max: MAX_SESSION_COUNT },
    },
    at: { type: 'string', placeholder: 'ISO', description: 'When to issue (default: now)' },
    wait: {
      type: 'boolean',
      description: 'Wait for the issuance and print what was issued (not with a future --at)',
    },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const tz = ctx.config.businessTimeZone;
    let request: ReturnType<typeof parseGrantOptions>;
    try {
      request = parseGrantOptions(values, tz);
    } catch (err) {
      if (err instanceof GrantInputError) throw new UsageError(err.message);
      throw err;
    }
    const checkedAt = new Date();
    const shape = checkGrantShape(request, checkedAt, tz);
    if (shape) throw new UsageError(shape);
    // A grant for later is issued by a workflow that sleeps until then: --wait would wait for nothing now.
    const issueAt = grantIssueAt(request, checkedAt);
    if (values.wait === true && issueAt.getTime() > checkedAt.getTime()) {
      throw new UsageError(
        `the grant would be issued at ${businessTime(issueAt, tz)}, so there is nothing to wait for now; leave out --wait and follow it with the command it prints`,
      );
    }

    // Reach Temporal before writing, so an unreachable server does not leave a bulk pass nobody issues
    // until the hourly schedule finds it.
    const [db, client] = await Promise.all([ctx.db(), ctx.temporal()]);
    const now = new Date();
    const created = await createGrant(db, request, now, tz);
    if (!created.ok) throw new UsageError(created.problem);
    const { grant } = created;

    if (!grant.runNow) {
      const issue = await startGrantIssue({ client, taskQueue: ctx.config.taskQueue }, grant);
      const url = workflowUrl(ctx.config, issue.workflowId, issue.runId);
      return {
        json: {
          outcome: 'scheduled',
          ...grantJson(grant),
          run: { workflowId: issue.workflowId, runId: issue.runId, url },
        },
        text: [
          describeGrant(grant, tz),
          `  waiting until ${businessTime(grant.issueAt, tz)}: workflow ${issue.workflowId} issues it then`,
          `  follow it from then: ptpass runs show ${issue.runId}`,
          `  Web UI: ${url}`,
        ].join('\n'),
      };
    }

    if (values.wait === true)
      ctx.progress(`bulk pass ${grant.bulkPassId}: issuing, waiting for it to finish...`);
    const { launchJob } = await import('../../client/launch-job.ts');
    const outcome: LaunchOutcome = await launchJob(
      { client, db, taskQueue: ctx.config.taskQueue },
      {
        job: issueBulkPassesJob.name,
        asOf: now,
        params: { bulkPassId: grant.bulkPassId },
        wait: values.wait === true,
      },
    );
    const url = workflowUrl(ctx.config, outcome.workflowId, outcome.runId);
    const run = { workflowId: outcome.workflowId, runId: outcome.runId, url };
    if (outcome.outcome === 'started') {
      return {
        json: { outcome: 'started', ...grantJson(grant), run },
        text: [
          describeGrant(grant, tz),
          `  issuing now: workflow ${outcome.workflowId}  run ${outcome.runId}`,
          `  Web UI: ${url}`,
        ].join('\n'),
      };
    }
    const row = await getBulkPass(db, grant.bulkPassId);
    const issued = row?.issuedCount ?? 0;
    const skipped = row?.skippedCount ?? 0;
    const members = issued + skipped;
    const completed = row?.status === 'COMPLETED';
    return {
      json: {
        outcome: completed ? 'issued' : 'incomplete',
        ...grantJson(grant),
        issued,
        skippedInactive: skipped,
        members,
        run,
      },
      text: [
        describeGrant(grant, tz),
        completed
          ? `  issued ${issued} pass${issued === 1 ? '' : 'es'} to ${issued} of ${members} member${members === 1 ? '' : 's'}` +
            (skipped ? ` (${skipped} INACTIVE skipped)` : '')
          : `  not complete yet: the group gained ACTIVE members during the run; the next scheduled run finishes it`,
        `  Web UI: ${url}`,
      ].join('\n'),
      exitCode: completed ? 0 : 1,
    };
  },
};

/** Text output shows times as the studio reads them (JSON keeps ISO-8601 instants). */
function describeGrant(g: Grant, timeZone: string): string {
  const sessions = g.count === null ? 'unlimited sessions' : `${g.count} session${g.count === 1 ? '' : 's'}`;
  const end = g.endedAt
    ? `until ${businessTime(g.endedAt, timeZone)}`
    : g.periodDays === null
      ? 'with no end'
      : `for ${g.periodDays} day${g.periodDays === 1 ? '' : 's'}`;
  const who = g.adHocGroup
    ? `${g.activeMembers} listed user${g.activeMembers === 1 ? '' : 's'} (new group ${g.groupId})`
    : `group ${g.groupId}: ${g.activeMembers} ACTIVE member${g.activeMembers === 1 ? '' : 's'}` +
      (g.inactiveMembers ? `, ${g.inactiveMembers} INACTIVE (skipped)` : '');
  return [
    `bulk pass ${g.bulkPassId}: package ${g.packageId} to ${who}`,
    `  each pass: ${sessions}, from ${businessTime(g.startedAt, timeZone)} ${end}`,
  ].join('\n');
}

function grantJson(g: Grant) {
  return {
    bulkPassId: g.bulkPassId,
    groupId: g.groupId,
    adHocGroup: g.adHocGroup,
    packageId: g.packageId,
    startedAt: g.startedAt.toISOString(),
    endedAt: g.endedAt?.toISOString() ?? null,
    periodDays: g.periodDays,
    count: g.count,
    issueAt: g.issueAt.toISOString(),
    activeMembers: g.activeMembers,
    inactiveMembers: g.inactiveMembers,
  };
}
