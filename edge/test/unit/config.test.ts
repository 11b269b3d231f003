// readConfig: PUBLIC_ORIGIN is required and must be a bare http(s) origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, readConfig, type Bindings } from '../../src/env.ts';

const base = { GPU_SERVICE_URL: 'http://127.0.0.1:8788', GPU_SHARED_SECRET: 's', URL_SIGNING_KEY: 'k' };
const config = (vars: Record<string, string>) => readConfig({ ...base, ...vars } as unknown as Bindings);

test('PUBLIC_ORIGIN is read as an origin (a trailing slash is dropped)', () => {
  assert.equal(config({ PUBLIC_ORIGIN: 'https://api.example.com/' }).publicOrigin, 'https://api.example.com');
  assert.equal(config({ PUBLIC_ORIGIN: 'http://127.0.0.1:8787' }).publicOrigin, 'http://127.0.0.1:8787');
});

test('a missing PUBLIC_ORIGIN, or one with a path, credentials or another scheme, is a configuration error', () => {
  for (const value of [undefined, '', 'api.example.com', 'https://api.example.com/v1', 'https://u:p@api.example.com', 'ftp://api.example.com']) {
    assert.throws(() => config(value === undefined ? {} : { PUBLIC_ORIGIN: value }), ConfigError, String(value));
  }
});
