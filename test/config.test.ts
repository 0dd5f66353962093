import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, resolveDatabaseUrl } from '../src/config.ts';

describe('configuration', () => {
  it('has working defaults for a laptop: embedded database, local dev server, Asia/Seoul', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      temporalAddress: undefined,
      namespace: 'default',
      taskQueue: 'ptpass',
      businessTimeZone: 'Asia/Seoul',
      temporalUiUrl: 'http://127.0.0.1:8233',
    });
    expect(resolveDatabaseUrl(config)).toEqual({
      url: 'postgres://postgres@127.0.0.1:55432/ptpass',
      embedded: true,
    });
  });

  it('names DATABASE_URL when it is not a postgres URL, without echoing its password', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/ptpass' })).toThrow(ConfigError);
    try {
      loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/ptpass' });
    } catch (err) {
      expect((err as Error).message).toMatch(/^invalid configuration: DATABASE_URL must be a postgres:\/\//);
      expect((err as Error).message).not.toContain('hunter2');
    }
    expect(() => loadConfig({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/);
  });

  it('names BUSINESS_TIMEZONE when the zone does not exist', () => {
    expect(() => loadConfig({ BUSINESS_TIMEZONE: 'Mars/Olympus_Mons' })).toThrow(
      /BUSINESS_TIMEZONE must be an IANA time zone .*\(got 'Mars\/Olympus_Mons'\)/,
    );
    expect(loadConfig({ BUSINESS_TIMEZONE: 'Europe/Berlin' }).businessTimeZone).toBe('Europe/Berlin');
  });

  it('names each bad variable: ports, Temporal address, log level', () => {
    expect(() => loadConfig({ METRICS_PORT: 'ninety' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ ADMIN_PORT: '70000' })).toThrow(/ADMIN_PORT must be between 0 and 65535/);
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'localhost' })).toThrow(/TEMPORAL_ADDRESS must be host:port/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', BUSINESS_TIMEZONE: '' }).businessTimeZone).toBe('Asia/Seoul');
  });
});
