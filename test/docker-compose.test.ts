import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTE_CLI_TYPES } from '../src/workflows/search-attributes.ts';

/** There is no Docker engine here; this checks the file's structure the way `docker compose config` would. */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  environment?: Record<string, string>;
  command?: string[];
}
const compose = parse(readFileSync(`${ROOT}/docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;

describe('docker-compose.yml', () => {
  it('has PostgreSQL 16, Temporal (schema, server, namespace), its UI and the ptpass worker', () => {
    expect(Object.keys(services).sort()).toEqual([
      'postgresql',
      'temporal',
      'temporal-namespace',
      'temporal-schema',
      'temporal-search-attributes',
      'temporal-ui',
      'worker',
    ]);
    expect(services.postgresql?.image).toBe('postgres:16');
    expect(services['temporal-schema']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services.temporal?.image).toMatch(/^temporalio\/server:/);
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
    expect(services.worker?.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
  });

  it('starts each service only when what it needs is healthy or done', () => {
    const deps = (name: string) => services[name]?.depends_on ?? {};
    expect(deps('temporal-schema')).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(deps('temporal')).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(deps('temporal-namespace')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(deps('temporal-search-attributes')).toEqual({
      'temporal-namespace': { condition: 'service_completed_successfully' },
    });
    expect(deps('temporal-ui')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(deps('worker')).toEqual({
      postgresql: { condition: 'service_healthy' },
      'temporal-search-attributes': { condition: 'service_completed_successfully' },
    });
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'worker']) {
      expect(services[name]?.healthcheck?.test?.[0], name).toBe('CMD-SHELL');
    }
    // Everything a service depends on as "healthy" has a healthcheck.
    for (const service of Object.values(services)) {
      for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[dep], dep).toBeDefined();
        if (condition === 'service_healthy') expect(services[dep]?.healthcheck, dep).toBeDefined();
      }
    }
  });

  it('sets up both Temporal databases on PostgreSQL and points the worker at the services', () => {
    const schema = services['temporal-schema']?.command?.join('\n') ?? '';
    expect(schema).toContain('--plugin postgres12');
    expect(schema).toMatch(/--db temporal setup-schema/);
    expect(schema).toMatch(/--db temporal_visibility update-schema/);
    expect(services.temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services.worker?.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgresql:5432\/ptpass$/);
    expect(services.worker?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('registers every search attribute a ptpass run sets, with its type', () => {
    const command = services['temporal-search-attributes']?.command?.join('\n') ?? '';
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_CLI_TYPES))
      expect(command).toContain(`--name ${name} --type ${type}`);
  });

  it('publishes ports that the environment can override, UI on 8080 by default', () => {
    // Compose's own `${VAR:-default}` interpolation, written as it appears in the file.
    const published = (variable: string, port: number) => `\${${variable}:-${port}}:${port}`;
    expect(services['temporal-ui']?.ports).toEqual([published('TEMPORAL_UI_PORT', 8080)]);
    expect(services.postgresql?.ports).toEqual([published('POSTGRES_PORT', 5432)]);
    expect(services.temporal?.ports).toEqual([published('TEMPORAL_PORT', 7233)]);
    for (const service of Object.values(services)) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^\$\{[A-Z_]+:-\d+\}:\d+$/);
    }
  });

  it('the worker image builds from files that exist and runs worker.ts', () => {
    const dockerfile = readFileSync(`${ROOT}/Dockerfile`, 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toContain('CMD ["node", "--import", "tsx", "worker.ts"]');
    for (const [, from] of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
      for (const path of from!.split(' ')) expect(existsSync(`${ROOT}/${path}`), path).toBe(true);
    }
  });
});
