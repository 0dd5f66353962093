import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { ImportFileError, openImportFile } from '../../client/import-file.ts';
import { importFile, importRejectsCsv, UnknownImportError } from '../../client/imports.ts';
import { findImport } from '../../db/queries/imports.ts';
import { IMPORT_KINDS } from '../../jobs/imports.ts';
import {
  type ApiEnv,
  ApiProblem,
  apiWrite,
  badRequest,
  Id,
  IdempotencyHeader,
  InstantOutput,
  isoInZone,
  isoOrNull,
  json,
  notFound,
  problems,
  Text,
} from '../core.ts';

/**
 * Imports (README "Imports"): upload a CSV file, which is staged and imported by its job, as
 * `ptpass import` does; read an import's state; download its rejected rows as CSV.
 */

/** An upload is read whole (its hash is the idempotency key's request); the JSON routes keep their small limit. */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

const Kind = z.enum(IMPORT_KINDS).openapi({ param: { name: 'kind', in: 'path' }, example: 'members' });

const ImportStarted = z
  .object({
    importId: z.number().int(),
    kind: z.enum(IMPORT_KINDS),
    fileName: z.string(),
    rows: z.number().int().openapi({ description: 'Data rows staged from the file' }),
    workflowId: z.string(),
    runId: z.string().openapi({ description: 'The import job run: GET /runs/{id} follows it' }),
  })
  .openapi('ImportStarted');

const ImportSchema = z
  .object({
    id: z.number().int(),
    kind: z.enum(IMPORT_KINDS),
    fileName: z.string(),
    status: z.enum(['STAGED', 'IMPORTED']),
    rows: z.number().int(),
    written: z.number().int().nullable().openapi({ description: 'Rows new or changed; null until imported' }),
    rejected: z.number().int().nullable().openapi({ description: 'Rows rejected; null until imported' }),
    createdAt: InstantOutput,
    importedAt: InstantOutput.nullable(),
  })
  .openapi('Import');

/** The media type of a Content-Type header, without its parameters: `text/csv; charset=utf-8` is text/csv. */
const mediaType = (header: string | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase();

export function registerImports(api: OpenAPIHono<ApiEnv>) {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/imports/{kind}',
      tags: ['imports'],
      // The API's JSON limit does not apply to a text/csv body: this route sets its own.
      middleware: [
        bodyLimit({
          maxSize: MAX_UPLOAD_BYTES,
          onError: () => {
            throw new ApiProblem(413, 'Too large', `the file is over ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB`);
          },
        }),
      ] as const,
      summary: 'Upload a CSV file of members or bookings; it is staged and imported by its job',
      description:
        'The body is the file (Content-Type: text/csv, parameters such as charset=utf-8 allowed; any other type ' +
        'is refused with 415), up to 64 MiB, in the format of README "Imports". A file ' +
        'that cannot be imported at all (wrong columns, not UTF-8, malformed CSV) is refused whole with 400 and ' +
        'nothing is written; bad rows are skipped by the job and listed by GET /imports/{id}/rejects.',
      request: {
        params: z.object({ kind: Kind }),
        query: z.object({
          fileName: Text(200).optional().openapi({
            description: 'Recorded with the import (default upload.csv)',
          }),
        }),
        headers: IdempotencyHeader,
        body: {
          content: { 'text/csv': { schema: z.string().openapi({ format: 'binary' }) } },
          required: true,
        },
      },
      responses: {
        202: { description: 'Staged, and the import job started', ...json(ImportStarted) },
        ...problems(400, 403, 413, 415, 422),
      },
    }),
    async (c) => {
      const { kind } = c.req.valid('param');
      const fileName = c.req.valid('query').fileName ?? 'upload.csv';
      const { config, db } = c.var.admin;
      const type = c.req.header('content-type');
      if (mediaType(type) !== 'text/csv')
        throw new ApiProblem(
          415,
          'Unsupported media type',
          `send the file as Content-Type: text/csv (got ${type ? `'${type}'` : 'none'}); nothing was written`,
        );
      const body = Buffer.from(await c.req.arrayBuffer());
      if (body.length === 0)
        throw badRequest([
          { field: '(body)', message: 'send the CSV file as the body (Content-Type: text/csv)' },
        ]);
      const fileProblem = (err: unknown): never => {
        if (err instanceof ImportFileError) throw badRequest([{ field: '(body)', message: err.message }]);
        throw err;
      };
      // The header is checked before anything is written.
      const file = await openImportFile(kind, Readable.from([body])).catch(fileProblem);
      const sha256 = createHash('sha256').update(body).digest('hex');
      return apiWrite(c, { kind, fileName, sha256 }, async () => {
        const summary = await importFile(
          { client: c.var.admin.schedules.client, db, taskQueue: config.taskQueue },
          { kind, fileName, file },
        ).catch(fileProblem);
        return {
          status: 202 as const,
          body: {
            importId: summary.importId,
            kind,
            fileName,
            rows: summary.rows,
            workflowId: summary.launch.workflowId,
            runId: summary.launch.runId,
          },
          writes: [{ resource: 'imports', id: summary.importId }],
        };
      }) as never;
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/imports/{id}',
      tags: ['imports'],
      summary: 'One import: its state and, once imported, its counts',
      request: { params: z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: { description: 'The import', ...json(ImportSchema) }, ...problems(400, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const { db, config } = c.var.admin;
      const row = await findImport(db, id);
      if (!row) throw notFound(`import ${id}`);
      const tz = config.businessTimeZone;
      return c.json(
        {
          id: row.id,
          kind: row.kind,
          fileName: row.fileName,
          status: row.status,
          rows: row.rowCount,
          written: row.writtenCount,
          rejected: row.rejectedCount,
          createdAt: isoInZone(row.createdAt, tz),
          importedAt: isoOrNull(row.importedAt, tz),
        },
        200,
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/imports/{id}/rejects',
      tags: ['imports'],
      summary: 'The rows an import rejected, as CSV: line, reason, then the fields as in the file',
      description:
        'What `ptpass import rejects` prints: UTF-8 with a BOM, CRLF. Only the header while the job runs.',
      request: { params: z.object({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: {
        200: {
          description: 'The rejected rows',
          content: {
            'text/csv': { schema: z.string().openapi({ example: 'line,reason,external_id,name\r\n' }) },
          },
        },
        ...problems(400, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const found = await importRejectsCsv(c.var.admin.db, id).catch((err: unknown) => {
        if (err instanceof UnknownImportError) throw new ApiProblem(404, 'Not found', err.message);
        throw err;
      });
      return new Response(found.csv, {
        status: 200,
        headers: {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Disposition': `attachment; filename="import-${id}-rejects.csv"`,
        },
      }) as never;
    },
  );
}
