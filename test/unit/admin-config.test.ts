import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { generateKeySpec } from '../../src/core/crypto.js';

const raw = (server: Record<string, unknown>) => ({
  server,
  encryption: { keys: generateKeySpec('k1') },
  connections: { crm: { connector: 'hubspot', credentials: { accessToken: 'pat' } } },
  pipelines: {},
});

function problems(server: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    buildConfig(raw(server), '/tmp/hub.yaml', { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

describe('admin settings in the config', () => {
  it('refuses an admin token shorter than 24 characters, naming the path and not the token', () => {
    for (const token of ['a', 'admin-token', 'x'.repeat(23)]) {
      const found = problems({ adminToken: token });
      expect(found).toEqual([expect.stringMatching(/^server\.adminToken: too short \(\d+ characters\): the admin token must have at least 24 characters/)]);
      if (token.length > 3) expect(found[0]).not.toContain(token);
    }
    expect(problems({ adminToken: '${SYNCHUB_ADMIN_TOKEN}' }, { SYNCHUB_ADMIN_TOKEN: 'short' })).toHaveLength(1);
  });

  it('takes a long token, no token, an https public URL and trustProxy', () => {
    expect(problems({ adminToken: 'x'.repeat(24) })).toEqual([]);
    expect(problems({ adminToken: '${SYNCHUB_ADMIN_TOKEN:-}' })).toEqual([]);
    const cfg = buildConfig(raw({ adminToken: 'k'.repeat(32), publicUrl: 'https://hub.example.com/', trustProxy: true }), '/tmp/hub.yaml', { env: {} });
    expect(cfg.server).toMatchObject({ publicUrl: 'https://hub.example.com/', trustProxy: true });
    expect(buildConfig(raw({}), '/tmp/hub.yaml', { env: {} }).server.trustProxy).toBe(false);
    const bad = problems({ publicUrl: 'hub.example.com' });
    expect(bad.length).toBeGreaterThan(0);
    for (const p of bad) expect(p).toMatch(/^server\.publicUrl: /);
  });
});
