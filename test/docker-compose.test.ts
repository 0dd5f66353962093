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
  command?: string | string[];
  deploy?: { replicas?: number | string };
  volumes?: string[];
  expose?: string[];
  restart?: string;
}
const compose = parse(readFileSync(`${ROOT}/docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;

describe('docker-compose.yml', () => {
  it('has PostgreSQL 16, Temporal (schema, server, namespace), its UI, the ptpass worker and admin web', () => {
    expect(Object.keys(services).sort()).toEqual([
      'admin',
      'postgresql',
      'temporal',
      'temporal-admin-tools',
      'temporal-create-namespace',
      'temporal-search-attributes',
      'temporal-ui',
      'worker',
    ]);
    expect(services.postgresql?.image).toBe('postgres:16');
    expect(services['temporal-admin-tools']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services['temporal-create-namespace']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services.temporal?.image).toMatch(/^temporalio\/server:/);
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
    // The worker and the admin web are the same image, built from this repository.
    for (const name of ['worker', 'admin']) {
      expect(services[name]?.build, name).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(services[name]?.image, name).toBe('ptpass:local');
    }
    expect(services.admin?.command).toEqual(['node', 'dist/client.js', 'admin']);
    expect(services.worker?.command).toBeUndefined(); // the image's CMD: the worker
  });

  it('runs two worker replicas by default, with no host port they would fight over', () => {
    expect(services.worker?.deploy?.replicas).toBe(`\${WORKER_REPLICAS:-2}`);
    expect(services.worker?.ports).toBeUndefined();
  });

  it('starts each service only when what it needs is healthy or done', () => {
    const deps = (name: string) => services[name]?.depends_on ?? {};
    expect(deps('temporal-admin-tools')).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(deps('temporal')).toEqual({
      'temporal-admin-tools': { condition: 'service_completed_successfully' },
    });
    expect(deps('temporal-create-namespace')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(deps('temporal-ui')).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(deps('temporal-search-attributes')).toEqual({
      'temporal-create-namespace': { condition: 'service_completed_successfully' },
    });
    expect(deps('worker')).toEqual({
      postgresql: { condition: 'service_healthy' },
      'temporal-search-attributes': { condition: 'service_completed_successfully' },
    });
    // The admin web does not migrate: it waits for a worker that has.
    expect(deps('admin')).toEqual({ worker: { condition: 'service_healthy' } });
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'worker', 'admin']) {
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

  it('brings the long-running services back after a crash or a reboot; the one-shot setup jobs only retry a failure', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'worker', 'admin'])
      expect(services[name]?.restart, name).toBe('unless-stopped');
    for (const name of ['temporal-admin-tools', 'temporal-create-namespace'])
      expect(services[name]?.restart, name).toMatch(/^on-failure:\d+$/);
    expect(services['temporal-search-attributes']?.restart).toBe('no');
  });

  it('checks Temporal with what the official server image has: no temporal or tctl binary inside it', () => {
    const check = services.temporal?.healthcheck?.test?.join(' ') ?? '';
    expect(check).toContain('nc -z localhost 7233');
    expect(check).not.toMatch(/\b(tctl|temporal )/);
  });

  it('sets up both Temporal databases on PostgreSQL with scripts that exist, and points ptpass at the services', () => {
    for (const name of ['temporal-admin-tools', 'temporal-create-namespace']) {
      expect(services[name]?.volumes, name).toEqual(['./docker/temporal:/scripts:ro']);
    }
    expect(services['temporal-admin-tools']?.command).toBe('/scripts/setup-postgres.sh');
    expect(services['temporal-create-namespace']?.command).toBe('/scripts/create-namespace.sh');
    const setup = readFileSync(`${ROOT}/docker/temporal/setup-postgres.sh`, 'utf8');
    expect(setup).toContain('--plugin postgres12');
    expect(setup).toMatch(/--db temporal setup-schema/);
    expect(setup).toMatch(/--db temporal_visibility update-schema/);
    const namespace = readFileSync(`${ROOT}/docker/temporal/create-namespace.sh`, 'utf8');
    expect(namespace).toContain('temporal operator namespace create');
    expect(services.temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    for (const name of ['worker', 'admin']) {
      expect(services[name]?.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgresql:5432\/ptpass$/);
      expect(services[name]?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(services.admin?.environment).toMatchObject({ ADMIN_HOST: '0.0.0.0', ADMIN_PORT: '8300' });
    expect(services.admin?.environment?.ADMIN_PASSWORD).toMatch(/^\$\{ADMIN_PASSWORD:\?/);
  });

  it('registers every search attribute a ptpass run sets, with its type', () => {
    const raw = services['temporal-search-attributes']?.command ?? '';
    const command = Array.isArray(raw) ? raw.join('\n') : raw;
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_CLI_TYPES))
      expect(command).toContain(`--name ${name} --type ${type}`);
  });

  it('publishes ports that the environment can override, UI on 8080 and the admin web on 8300', () => {
    // Compose's own `${VAR:-default}` interpolation, written as it appears in the file.
    const published = (variable: string, port: number) => `\${${variable}:-${port}}:${port}`;
    expect(services['temporal-ui']?.ports).toEqual([published('TEMPORAL_UI_PORT', 8080)]);
    expect(services.postgresql?.ports).toEqual([published('POSTGRES_PORT', 5432)]);
    expect(services.temporal?.ports).toEqual([published('TEMPORAL_PORT', 7233)]);
    expect(services.admin?.ports).toEqual([published('ADMIN_PORT', 8300)]);
    for (const service of Object.values(services)) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^\$\{[A-Z_]+:-\d+\}:\d+$/);
    }
  });

  it('the image is built in two stages from files that exist, runs as node and starts the compiled worker', () => {
    const dockerfile = readFileSync(`${ROOT}/Dockerfile`, 'utf8');
    expect(dockerfile.match(/^FROM node:20\S* AS build$/m)).not.toBeNull();
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain('CMD ["node", "--max-old-space-size=160", "dist/worker.js"]');
    expect(dockerfile).not.toMatch(/^RUN npm ci/m);
    for (const [, from] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const path of from!.split(' ')) expect(existsSync(`${ROOT}/${path}`), path).toBe(true);
    }
  });
});
