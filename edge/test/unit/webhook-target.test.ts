// SSRF rules for webhook URLs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWebhookTarget } from '../../src/webhook/target.ts';

test('public https hosts are allowed', () => {
  for (const url of ['https://example.com/hook', 'https://hooks.example.co.uk:8443/a?b=c', 'https://93.184.216.34/x', 'https://[2606:2800:220:1::1]/x']) {
    assert.equal(checkWebhookTarget(url, false).ok, true, url);
  }
});

test('http, local names and private, loopback, link-local or reserved literals are refused', () => {
  for (const url of [
    'http://example.com/hook',
    'ftp://example.com/x',
    'https://localhost/x',
    'https://api.localhost/x',
    'https://printer.local/x',
    'https://intranet/x',
    'https://127.0.0.1/x',
    'https://2130706433/x', // 127.0.0.1 as one number; the URL parser normalises it
    'https://0x7f.1/x',
    'https://10.0.0.1/x',
    'https://172.16.5.4/x',
    'https://192.168.1.1/x',
    'https://169.254.169.254/latest/meta-data',
    'https://100.64.0.1/x',
    'https://0.0.0.0/x',
    'https://[::1]/x',
    'https://[fd00::1]/x',
    'https://[fe80::1]/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://user:pass@example.com/x',
    'not a url',
  ]) {
    assert.equal(checkWebhookTarget(url, false).ok, false, url);
  }
});

test('the local-testing switch allows http and loopback, nothing else', () => {
  assert.equal(checkWebhookTarget('http://127.0.0.1:9999/hook', true).ok, true);
  assert.equal(checkWebhookTarget('file:///etc/passwd', true).ok, false);
});
