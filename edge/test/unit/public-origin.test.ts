// PUBLIC_ORIGIN must be a bare http(s) origin (the Worker answers 500 "misconfigured" otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePublicOrigin } from '../../src/public-origin.ts';

test('an origin is read as one (a trailing slash is dropped)', () => {
  assert.equal(parsePublicOrigin('https://api.example.com/'), 'https://api.example.com');
  assert.equal(parsePublicOrigin('http://127.0.0.1:8787'), 'http://127.0.0.1:8787');
});

test('anything with a path, credentials, query or another scheme is refused', () => {
  for (const value of [
    '',
    'api.example.com',
    'https://api.example.com/v1',
    'https://u:p@api.example.com',
    'https://api.example.com?x=1',
    'ftp://api.example.com',
  ]) {
    assert.equal(parsePublicOrigin(value), null, value);
  }
});
