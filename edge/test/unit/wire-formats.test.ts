// Small wire formats: SSE framing, render-URL canonicalisation, content-key inputs, byte ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { formatEvent } from '../../src/sse.ts';
import { parseEvents } from '../helpers/sse.ts';
import { canonicalQuery, renderSignature } from '../../src/render/signature.ts';
import { canonicalJson, normalizeText, storedParams } from '../../src/generation/params.ts';
import { matchesEtag, parseRange } from '../../src/images/http.ts';
import { signRequest } from '../../src/gpu/signature.ts';
import { renderSigningKey } from '../../src/keys/record.ts';

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

test('SSE: events split across chunks, CRLF, comments and multi-line data parse correctly', async () => {
  const events = [];
  for await (const event of parseEvents(
    streamOf('id: 1\r\nevent: a\r\ndata: {"x"', ':1}\r\n\r\n: keepalive\n\nevent: b\ndata: line1\ndata: line2\n\n'),
  ))
    events.push(event);
  assert.deepEqual(events, [
    { event: 'a', data: '{"x":1}', id: '1' },
    { event: 'b', data: 'line1\nline2', id: '1' },
  ]);
});

test('SSE: formatEvent round-trips through parseEvents', async () => {
  const text = formatEvent({ id: '7', event: 'progress', data: '{"scale":1}' });
  assert.equal(text, 'id: 7\nevent: progress\ndata: {"scale":1}\n\n');
  const parsed = [];
  for await (const event of parseEvents(streamOf(text))) parsed.push(event);
  assert.deepEqual(parsed, [{ id: '7', event: 'progress', data: '{"scale":1}' }]);
});

test('render canonical query: sorted by name, sig dropped, RFC 3986 encoding of decoded values', () => {
  const canonical = canonicalQuery([
    ['prompt', 'a fox & "hen"'],
    ['sig', 'x'],
    ['exp', '10'],
    ['kid', 'abc'],
    ['cfg', '4.5'],
  ]);
  assert.equal(canonical, 'cfg=4.5&exp=10&kid=abc&prompt=a%20fox%20%26%20%22hen%22');
});

test('render signature = HMAC(key = sk bytes, canonical) with sk = HMAC(API key, "star-api render v1")', async () => {
  const apiKey = 'sk_test_0123456789abcdefghijkl';
  const sk = createHmac('sha256', apiKey).update('star-api render v1').digest();
  assert.equal(await renderSigningKey(apiKey), sk.toString('hex'));
  const expected = createHmac('sha256', sk).update('exp=1&kid=k').digest('hex');
  assert.equal(await renderSignature(sk.toString('hex'), 'exp=1&kid=k'), expected);
});

test('GPU request signature follows internal-api.md: nonce and the headers the service acts on are signed', async () => {
  const headers = await signRequest(
    'secret',
    'POST',
    '/internal/v1/generate',
    '{"a":1}',
    { Accept: 'text/event-stream', 'X-Request-Deadline-Ms': '5000' },
    1700000000,
  );
  const nonce = headers['x-star-nonce'];
  assert.match(nonce, /^[A-Za-z0-9_-]{22}$/);
  const bodyHash = createHash('sha256').update('{"a":1}').digest('hex');
  const canonical = `POST\n/internal/v1/generate\n1700000000\n${nonce}\naccept:text/event-stream\nx-request-deadline-ms:5000\n${bodyHash}`;
  const expected = `v1=${createHmac('sha256', 'secret').update(canonical).digest('hex')}`;
  assert.deepEqual(headers, {
    Accept: 'text/event-stream',
    'X-Request-Deadline-Ms': '5000',
    'x-star-timestamp': '1700000000',
    'x-star-nonce': nonce,
    'x-star-signature': expected,
  });
  const again = await signRequest('secret', 'POST', '/internal/v1/generate', '{"a":1}', {}, 1700000000);
  assert.notEqual(again['x-star-nonce'], nonce, 'every request gets its own nonce');
});

test('content-key inputs: canonical JSON ignores key order; NFC + trim', () => {
  assert.equal(canonicalJson({ b: 1, a: 'x', c: true }), '{"a":"x","b":1,"c":true}');
  assert.equal(normalizeText('  e\u0301\n'), '\u00e9');
});

test('a job queued before parameters carried their seeds runs with the seeds and format it asked for', () => {
  const common = {
    model: 'star-tiny',
    prompt: 'p',
    negative_prompt: '',
    cfg: 4.5,
    top_k: 900,
    top_p: 0.95,
    more_smooth: false,
    png_metadata: true,
  };
  const upgraded = storedParams({ ...common, seed: 4294967295, n: 2, format: 'webp' });
  assert.deepEqual(upgraded, { ...common, seeds: [4294967295, 0], output_format: 'webp' });
  assert.equal(storedParams(upgraded), upgraded, 'today’s shape passes as it is');
});

test('byte ranges and ETag matching', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,5-6', 100), null, 'several ranges: answered whole');
  assert.equal(parseRange('items=0-1', 100), null);
  assert.equal(matchesEtag('"a", W/"b"', '"b"'), true);
  assert.equal(matchesEtag('*', '"b"'), true);
  assert.equal(matchesEtag('"c"', '"b"'), false);
});
