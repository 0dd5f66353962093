import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { and, asc, desc, eq, gt, lt, or } from 'drizzle-orm';
import { createGrant, type Grant, type GrantRequest, startGrantIssue } from '../../client/grant.ts';
import { JobAlreadyRunningError, LaunchError, launchJob } from '../../client/launch-job.ts';
import type { Db } from '../../db/client.ts';
import { getJobRun } from '../../db/queries/runs.ts';
import { bulkPasses, jobRuns, packages, runStatus } from '../../db/schema.ts';
import { JOB_NAMES } from '../../jobs/index.ts';
import {
  type ApiEnv,
  ApiProblem,
  apiWrite,
  badRequest,
  decodeCursor,
  Id,
  IdempotencyHeader,
  InstantInput,
  InstantOutput,
  isoInZone,
  isoOrNull,
  json,
  notFound,
  PageQuery,
  pageFrom,
  pageOf,
  parseTimes,
  problems,
} from '../core.ts';

/** Bulk passes (grants), job runs, and launching a job instance. */

const BulkPassSchema = z
  .object({
    id: z.number().int(),
    status: z.enum(['READY', 'COMPLETED']),
    packageId: z.number().int(),
    groupId: z.number().int(),
    count: z.number().int().nullable().openapi({ description: 'Sessions per pass; null: unlimited' }),
    startedAt: InstantOutput,
    endedAt: InstantOutput.nullable(),
    issueAt: InstantOutput,
    issuedCount: z.number().int(),
    skippedCount: z.number().int(),
    completedAt: InstantOutput.nullable(),
  })
  .openapi('BulkPass');

async function bulkPassJson(db: Pick<Db, 'select'>, id: number, tz: string) {
  const [row] = await db
    .select({ b: bulkPasses, sessionCount: packages.sessionCount })
    .from(bulkPasses)
    .innerJoin(packages, eq(packages.id, bulkPasses.packageId))
    .where(eq(bulkPasses.id, id));
  if (!row) return undefined;
  const { b } = row;
  return {
    id: b.id,
    status: b.status,
    packageId: b.packageId,
    groupId: b.groupId,
    count: b.count ?? row.sessionCount,
    startedAt: isoInZone(b.startedAt, tz),
    endedAt: isoOrNull(b.endedAt, tz),
    issueAt: isoInZone(b.issueAt ?? b.startedAt, tz),
    issuedCount: b.issuedCount,
    skippedCount: b.skippedCount,
    completedAt: isoOrNull(b.completedAt, tz),
  };
}

const RunSchema = z
  .object({
    runId: z.string(),
    workflowId: z.string(),
    job: z.string(),
    asOf: InstantOutput,
    dryRun: z.boolean(),
    status: z.enum(runStatus.enumValues),
    read: z.number().int(),
    written: z.number().int(),
    skipped: z.number().int(),
    startedAt: InstantOutput,
    endedAt: InstantOutput.nullable(),
    error: z.string().nullable(),
  })
  .openapi('Run');

const RunDetailSchema = RunSchema.extend({
  steps: z.array(
    z.object({
      step: z.string(),
      partition: z.number().int(),
      status: z.string(),
      read: z.number().int(),
      written: z.number().int(),
      skipped: z.number().int(),
    }),
  ),
  skips: z.array(
    z.object({ step: z.string(), partition: z.number().int(), key: z.string(), reason: z.string() }),
  ),
}).openapi('RunDetail');

function runJson(r: typeof jobRuns.$inferSelect, tz: string) {
  return {
    runId: r.id,
    workflowId: r.workflowId,
    job: r.job,
    asOf: isoInZone(r.asOf, tz),
    dryRun: r.dryRun,
    status: r.status,
    read: r.readCount,
    written: r.writeCount,
    skipped: r.skipCount,
    startedAt: isoInZone(r.startedAt, tz),
    endedAt: isoOrNull(r.endedAt, tz),
    error: r.error,
  };
}

const LaunchSchema = z
  .object({
    outcome: z.enum(['started', 'already-completed']),
    workflowId: z.string(),
    runId: z.string(),
    asOf: z.string(),
  })
  .openapi('Launch');

/** Run cursors: newest first by start, then id (run ids are UUIDs). */
function decodeRunCursor(cursor: string | undefined) {
  if (cursor === undefined) return undefined;
  const m = /^(\d{1,15})\|([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw badRequest([{ field: 'query.cursor', message: 'must be the nextCursor of a previous page' }]);
  return { startedAt: new Date(Number(m[1])), id: m[2]! };
}

export function registerOperations(api: OpenAPIHono<ApiEnv>) {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/bulk-passes',
      tags: ['bulk passes'],
      summary:
        'Grant one pass each to a group or to listed members (the rules and messages of `ptpass grant`)',
      description:
        'Issued at once through the issue-bulk-passes job unless `issueAt` is in the future (then the schedule ' +
        'issues it). Give `groupId` or `memberIds`, not both.',
      request: {
        headers: IdempotencyHeader,
        body: {
          ...json(
            z
              .object({
                packageId: Id,
                groupId: Id.optional(),
                memberIds: z.array(Id).min(1, 'list at least one member').max(10_000).optional(),
                startedAt: InstantInput.optional(),
                endedAt: InstantInput.optional(),
                count: z.number().int().optional(),
                issueAt: InstantInput.optional(),
              })
              .strict()
              .openapi('BulkPassCreate'),
          ),
          required: true,
        },
      },
      responses: {
        201: { description: 'The bulk pass', ...json(BulkPassSchema) },
        ...problems(400, 403, 422),
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const { config } = c.var.admin;
      const tz = config.businessTimeZone;
      if ((input.groupId === undefined) === (input.memberIds === undefined))
        throw badRequest([{ field: 'groupId', message: 'give groupId or memberIds (one of them)' }]);
      const times = parseTimes(
        { startedAt: input.startedAt, endedAt: input.endedAt, issueAt: input.issueAt },
        tz,
      );
      const request: GrantRequest = {
        packageId: input.packageId,
        target: input.groupId !== undefined ? { groupId: input.groupId } : { userIds: input.memberIds! },
        ...times,
        ...(input.count !== undefined ? { count: input.count } : {}),
      };
      const now = c.var.admin.now();
      let grant: Grant | undefined;
      const response = await apiWrite(c, input, async (tx) => {
        // createGrant's own transaction becomes a savepoint of this one.
        const created = await createGrant(tx as unknown as Db, request, now, tz);
        if (!created.ok)
          throw new ApiProblem(400, 'Bad request', created.problem, { reason: 'grant-refused' });
        grant = created.grant;
        return {
          status: 201,
          body: (await bulkPassJson(tx, created.grant.bulkPassId, tz))!,
          writes: [{ resource: 'bulk_passes', id: created.grant.bulkPassId }],
        };
      });
      // Started after the commit, so the workflow finds the bulk pass: the grant's own workflow waits until
      // the issue time (at once for a grant for now), as the CLI and the admin form do. If Temporal is
      // unreachable the bulk pass stays READY and the hourly schedule issues it.
      if (grant && !response.headers.has('Idempotent-Replayed')) {
        try {
          await startGrantIssue({ client: c.var.admin.schedules.client, taskQueue: config.taskQueue }, grant);
        } catch (err) {
          c.var.admin.logger.warn('bulk pass workflow not started; the hourly schedule will issue it', {
            bulkPassId: grant.bulkPassId,
            error: err,
          });
        }
      }
      return response as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/bulk-passes',
      tags: ['bulk passes'],
      summary: 'List bulk passes',
      request: { query: PageQuery },
      responses: {
        200: { description: 'A page of bulk passes', ...json(pageOf(BulkPassSchema, 'BulkPassPage')) },
        ...problems(400),
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const { db, config } = c.var.admin;
      const ids = await db
        .select({ id: bulkPasses.id })
        .from(bulkPasses)
        .where(gt(bulkPasses.id, decodeCursor(query.cursor)))
        .orderBy(asc(bulkPasses.id))
        .limit(query.limit + 1);
      const page = pageFrom(ids, query.limit);
      const items = [];
      for (const { id } of page.items) items.push((await bulkPassJson(db, id, config.businessTimeZone))!);
      return c.json({ items, nextCursor: page.nextCursor }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/runs',
      tags: ['runs'],
      summary: 'Job runs, newest first',
      request: {
        query: PageQuery.extend({
          // An unknown job is refused, as `ptpass runs list --job` refuses it, not answered with no runs.
          job: z
            .enum(JOB_NAMES, {
              error: (issue) =>
                `'${String(issue.input).slice(0, 100)}' is not a job: one of ${JOB_NAMES.join(', ')}`,
            })
            .optional()
            .openapi({ description: 'Only runs of this job' }),
        }),
      },
      responses: {
        200: { description: 'A page of runs', ...json(pageOf(RunSchema, 'RunPage')) },
        ...problems(400),
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const after = decodeRunCursor(query.cursor);
      const { db, config } = c.var.admin;
      const rows = await db
        .select()
        .from(jobRuns)
        .where(
          and(
            query.job ? eq(jobRuns.job, query.job) : undefined,
            after
              ? or(
                  lt(jobRuns.startedAt, after.startedAt),
                  and(eq(jobRuns.startedAt, after.startedAt), gt(jobRuns.id, after.id)),
                )
              : undefined,
          ),
        )
        .orderBy(desc(jobRuns.startedAt), asc(jobRuns.id))
        .limit(query.limit + 1);
      const items = rows.slice(0, query.limit);
      const last = items[items.length - 1];
      // Millisecond cursors: PostgreSQL keeps microseconds, so the bound is the run's own start rounded down.
      const nextCursor =
        rows.length > query.limit && last
          ? Buffer.from(`${last.startedAt.getTime()}|${last.id}`).toString('base64url')
          : null;
      return c.json({ items: items.map((r) => runJson(r, config.businessTimeZone)), nextCursor }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/runs/{id}',
      tags: ['runs'],
      summary: 'One run: its steps and skipped items with reasons',
      request: {
        params: z.object({
          id: z.uuid('must be a run id (a UUID)').openapi({ param: { name: 'id', in: 'path' } }),
        }),
      },
      responses: { 200: { description: 'The run', ...json(RunDetailSchema) }, ...problems(400, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { db, config } = c.var.admin;
      const found = await getJobRun(db, id);
      if (!found) throw notFound(`run ${id}`);
      return c.json(
        {
          ...runJson(found.run, config.businessTimeZone),
          steps: found.steps.map((s) => ({
            step: s.step,
            partition: s.partition,
            status: s.status,
            read: s.readCount,
            written: s.writeCount,
            skipped: s.skipCount,
          })),
          skips: found.skips.map((s) => ({
            step: s.step,
            partition: s.partition,
            key: s.key,
            reason: s.reason,
          })),
        },
        200,
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/{job}/runs',
      tags: ['runs'],
      summary: 'Launch a job instance (as `ptpass job run` does, without waiting)',
      request: {
        params: z.object({
          job: z
            .string()
            .max(100)
            .openapi({ param: { name: 'job', in: 'path' }, example: 'pass-lifecycle' }),
        }),
        headers: IdempotencyHeader,
        body: {
          ...json(
            z
              .object({
                asOf: InstantInput.optional().openapi({
                  description: 'Logical time; default: the current minute',
                }),
                params: z.record(z.string(), z.unknown()).optional(),
                dryRun: z.boolean().optional(),
                rerun: z.boolean().optional(),
              })
              .strict()
              .openapi('JobLaunch'),
          ),
          required: false,
        },
      },
      responses: {
        202: { description: 'The instance', ...json(LaunchSchema) },
        ...problems(400, 403, 409, 422),
      },
    }),
    async (c) => {
      const { job } = c.req.valid('param');
      const input = c.req.valid('json') ?? {};
      const { config, db } = c.var.admin;
      const times = parseTimes({ asOf: input.asOf }, config.businessTimeZone);
      return apiWrite(c, { job, ...input }, async () => {
        try {
          const outcome = await launchJob(
            { client: c.var.admin.schedules.client, db, taskQueue: config.taskQueue },
            { job, asOf: times.asOf, params: input.params, dryRun: input.dryRun, rerun: input.rerun },
          );
          const body = {
            outcome: outcome.outcome as 'started' | 'already-completed',
            workflowId: outcome.workflowId,
            runId: outcome.runId,
            asOf: outcome.asOf,
          };
          return { status: 202 as const, body, writes: [{ resource: 'job_runs', id: outcome.workflowId }] };
        } catch (err) {
          if (err instanceof JobAlreadyRunningError)
            throw new ApiProblem(409, 'Refused', err.message, { reason: 'job-already-running' });
          if (err instanceof LaunchError)
            throw new ApiProblem(400, 'Bad request', err.message, { reason: 'launch-refused' });
          throw err;
        }
      }) as never;
    },
  );
}
