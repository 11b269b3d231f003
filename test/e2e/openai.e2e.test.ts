// The official `openai` npm client against the real local stack (edge in workerd, gpu-service on
// star-tiny), pointed at it with baseURL: what a user of OpenAI's Images API gets by changing one
// line. Success in both response formats, and errors that reach the client with their message.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { ImageGenerateParams } from 'openai/resources/images';
import sharp from 'sharp';
import { startTestStack, type TestStack } from '../lib/reliability.ts';

let stack: TestStack;
let openai: OpenAI;

/** star-tiny's native size; OpenAI's own models have no 64×64, so its type does not list it. */
const TINY_SIZE = '64x64' as ImageGenerateParams['size'];

before(async () => {
  stack = await startTestStack();
  openai = new OpenAI({ apiKey: stack.apiKey, baseURL: `${stack.edgeUrl}/v1`, maxRetries: 0, timeout: 60_000 });
});
after(async () => {
  await stack?.dispose();
});

async function assertTinyPng(bytes: Buffer): Promise<void> {
  const meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 64]);
}

test('images.generate with response_format url: n images at URLs that download as 64×64 PNGs', async () => {
  const result = await openai.images.generate({
    model: 'star-tiny',
    prompt: 'a lighthouse, asked the OpenAI way',
    n: 2,
    size: TINY_SIZE,
    response_format: 'url',
    user: 'end-user-7',
    quality: 'standard',
    style: 'natural',
  });
  assert.ok(Number.isInteger(result.created));
  assert.equal(result.data?.length, 2);
  for (const image of result.data ?? []) {
    assert.match(image.url ?? '', /\/v1\/images\/[0-9a-f]{64}\.png$/);
    const response = await fetch(image.url!);
    assert.equal(response.status, 200);
    await assertTinyPng(Buffer.from(await response.arrayBuffer()));
  }
});

test('images.generate with response_format b64_json: the image bytes inline', async () => {
  const result = await openai.images.generate({ model: 'star-tiny', prompt: 'a paper boat, inline', response_format: 'b64_json' });
  assert.equal(result.data?.length, 1);
  assert.equal(result.data?.[0].url, undefined);
  await assertTinyPng(Buffer.from(result.data?.[0].b64_json ?? '', 'base64'));
});

test('a size the model does not make is a BadRequestError whose message lists the valid size', async () => {
  const error = await openai.images.generate({ model: 'star-tiny', prompt: 'too big', size: '1024x1024' }).then(
    () => assert.fail('expected a 400'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof OpenAI.BadRequestError, String(error));
  assert.equal(error.status, 400);
  assert.doesNotMatch(error.message, /no body/);
  assert.match(error.message, /valid sizes: 64x64/);
  assert.equal(error.code, 'invalid_request');
  assert.equal(error.param, 'size');
  assert.equal(error.type, 'invalid_request_error');
  assert.match(error.requestID ?? '', /^req_/);
});

test('a wrong API key is an AuthenticationError with a message', async () => {
  const stranger = new OpenAI({ apiKey: 'sk_not_a_key_of_this_deployment_000000', baseURL: `${stack.edgeUrl}/v1`, maxRetries: 0 });
  const error = await stranger.images.generate({ model: 'star-tiny', prompt: 'who am i' }).catch((caught: unknown) => caught);
  assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
  assert.doesNotMatch(error.message, /no body/);
  assert.equal(error.type, 'authentication_error');
});
