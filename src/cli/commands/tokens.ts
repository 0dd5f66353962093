import {
  API_TOKEN_SCOPES,
  type ApiTokenScope,
  createApiToken,
  listApiTokens,
  revokeApiToken,
} from '../../db/queries/api-tokens.ts';
import { type Command, requireString, table, UsageError } from '../command.ts';

/** `ptpass tokens create|list|revoke`: bearer tokens of the HTTP API (README "API"). */

const tokensCreateCommand: Command = {
  words: ['tokens', 'create'],
  summary: 'Create an API token; it is printed once and only its hash is kept.',
  details: [
    'read: GET routes only. write: every route (creates, updates, bookings, launches).',
    'Send it as `Authorization: Bearer <token>`. Lost tokens cannot be shown again: revoke and create another.',
  ].join('\n'),
  options: {
    name: { type: 'string', placeholder: 'NAME', description: 'Who uses it, e.g. booking-app (required)' },
    scope: { type: 'string', placeholder: 'read|write', description: 'What it may do (required)' },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const name = requireString(values, 'name').trim();
    if (name.length > 100) throw new UsageError(`--name must be at most 100 characters (got ${name.length})`);
    const scope = requireString(values, 'scope');
    if (!(API_TOKEN_SCOPES as readonly string[]).includes(scope))
      throw new UsageError(`--scope must be read or write (got '${scope}')`);
    const db = await ctx.db();
    const created = await createApiToken(db, { name, scope: scope as ApiTokenScope });
    return {
      json: { id: created.id, name: created.name, scope: created.scope, token: created.token },
      text: [
        `token ${created.id} (${created.name}, ${created.scope}):`,
        created.token,
        'It is shown only now; store it where the client keeps secrets.',
      ].join('\n'),
    };
  },
};

const tokensListCommand: Command = {
  words: ['tokens', 'list'],
  summary: 'API tokens: name, scope, last use, revocation (never the tokens themselves).',
  options: {},
  async run({ positionals }, ctx) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const rows = await listApiTokens(await ctx.db());
    const json = rows.map((r) => ({
      id: r.id,
      name: r.name,
      scope: r.scope,
      createdAt: r.createdAt.toISOString(),
      lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
      revokedAt: r.revokedAt?.toISOString() ?? null,
    }));
    const text = rows.length
      ? table(
          ['id', 'name', 'scope', 'created', 'last used', 'revoked'],
          json.map((r) => [r.id, r.name, r.scope, r.createdAt, r.lastUsedAt, r.revokedAt]),
        )
      : 'no API tokens yet (ptpass tokens create --name NAME --scope read|write)';
    return { json, text };
  },
};

const tokensRevokeCommand: Command = {
  words: ['tokens', 'revoke'],
  args: '<token-id>',
  summary: 'Revoke an API token: requests with it get 401 from now on.',
  options: {},
  async run({ positionals }, ctx) {
    const [idText, extra] = positionals;
    if (!idText) throw new UsageError('which token? give its id (ptpass tokens list)');
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
    if (!/^[1-9]\d{0,17}$/.test(idText))
      throw new UsageError(`token id '${idText}' is not a whole number above 0`);
    const id = Number(idText);
    if (!(await revokeApiToken(await ctx.db(), id))) throw new UsageError(`no API token ${id}`);
    return { json: { id, revoked: true }, text: `token ${id} revoked` };
  },
};

export const tokensCommands: Command[] = [tokensCreateCommand, tokensListCommand, tokensRevokeCommand];
