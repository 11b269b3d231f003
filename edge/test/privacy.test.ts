// Privacy in workerd: PNG text metadata per request (off for render URLs unless asked), private
// images keyed by their API key, and DELETE /v1/images/{key} for a private image's owner only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeGpu } from './helpers/gpu-server.ts';
import { GPU_SECRET, bearer, jsonPost, startWorker, type TestWorker } from './helpers/worker.ts';
import { future, signedPath } from './helpers/render-url.ts';

const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;
let alice: string;
let bob: string;

interface Generation {
  data: { key: string; url: string }[];
  cached: boolean;
}

before(async () => {
  worker = await startWorker({ gpuUrl: await gpu.start() });
  [alice, bob] = await Promise.all([
    worker.createKey({ name: 'alice', limits: { requests: 1000, images: 1000 } }),
    worker.createKey({ name: 'bob', limits: { requests: 1000, images: 1000 } }),
  ]);
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

async function generate(apiKey: string, body: Record<string, unknown>): Promise<Generation> {
  const response = await worker.fetch('/v1/images/generations', jsonPost(apiKey, body));
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as Generation;
}

function remove(apiKey: string | null, imageKey: string): Promise<Response> {
  return worker.fetch(`/v1/images/${imageKey}`, { method: 'DELETE', headers: apiKey ? bearer(apiKey) : {} });
}

async function status(path: string): Promise<number> {
  const response = await worker.fetch(path);
  await response.body?.cancel();
  return response.status;
}

/** A render path for these parameters, valid for an hour. */
const renderPath = (apiKey: string, params: Record<string, string>) => signedPath(apiKey, { exp: future(), ...params });

describe('PNG text metadata', () => {
  test('on by default in the JSON API; png_metadata: false asks the GPU for none and is its own image', async () => {
    gpu.reset();
    const withText = await generate(alice, { prompt: 'metadata on', seed: 1 });
    const without = await generate(alice, { prompt: 'metadata on', seed: 1, png_metadata: false });
    assert.deepEqual(
      gpu.requests.map((request) => request.png_metadata),
      [true, false],
    );
    assert.notEqual(without.data[0].key, withText.data[0].key, 'a PNG without text is different bytes, at a different URL');
    assert.equal(without.cached, false);
  });

  test('png_metadata does not split the cache for formats that never carry it', async () => {
    gpu.reset();
    const first = await generate(alice, { prompt: 'webp either way', seed: 2, output_format: 'webp' });
    const second = await generate(alice, { prompt: 'webp either way', seed: 2, output_format: 'webp', png_metadata: false });
    assert.equal(second.data[0].key, first.data[0].key);
    assert.equal(second.cached, true);
    assert.equal(gpu.calls, 1);
  });

  test('render URLs leave it out unless the signed URL asks for it', async () => {
    gpu.reset();
    for (const path of [
      renderPath(alice, { prompt: 'rendered', seed: '3' }),
      renderPath(alice, { prompt: 'rendered', seed: '3', png_metadata: 'true' }),
    ]) {
      const response = await worker.fetch(path);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    assert.deepEqual(
      gpu.requests.map((request) => request.png_metadata),
      [false, true],
    );
  });
});

describe('private images', () => {
  test('are keyed by the API key: another key neither hits them nor gets their URL', async () => {
    gpu.reset();
    const shared = await generate(alice, { prompt: 'a secret garden', seed: 4 });
    const mine = await generate(alice, { prompt: 'a secret garden', seed: 4, private: true });
    const theirs = await generate(bob, { prompt: 'a secret garden', seed: 4, private: true });
    const sharedAgain = await generate(bob, { prompt: 'a secret garden', seed: 4 });
    assert.equal(new Set([shared.data[0].key, mine.data[0].key, theirs.data[0].key]).size, 3);
    assert.equal(mine.cached, false, 'a private request does not hit the shared image');
    assert.equal(theirs.cached, false, "bob's private request does not hit alice's");
    assert.equal(sharedAgain.data[0].key, shared.data[0].key, 'shared images are shared across keys');
    assert.equal(sharedAgain.cached, true);
    assert.equal(gpu.calls, 3);
  });

  test('the owner deletes one: 204, its URL is 404, and asking again generates it afresh', async () => {
    gpu.reset();
    const {
      data: [image],
    } = await generate(alice, { prompt: 'delete me', seed: 5, private: true });
    const path = new URL(image.url).pathname;
    assert.equal(await status(path), 200);
    const deleted = await remove(alice, image.key);
    assert.equal(deleted.status, 204);
    assert.match(deleted.headers.get('RateLimit') ?? '', /"requests"/);
    assert.equal(await status(path), 404, 'gone from R2 and from the Cache API');
    assert.equal((await remove(alice, image.key)).status, 404, 'deleting twice finds nothing');
    const again = await generate(alice, { prompt: 'delete me', seed: 5, private: true });
    assert.equal(again.data[0].key, image.key);
    assert.equal(again.cached, false);
    assert.equal(gpu.calls, 2);
  });

  test('another key cannot delete it (404, as if it did not exist) and it stays', async () => {
    const {
      data: [image],
    } = await generate(alice, { prompt: 'not yours', seed: 6, private: true });
    const refused = await remove(bob, image.key);
    assert.equal(refused.status, 404);
    assert.equal(((await refused.json()) as { type: string }).type, 'https://star-api.dev/problems/not_found');
    assert.equal(await status(new URL(image.url).pathname), 200);
  });

  test("a private job stores its image as the key's own, and asks the GPU for no PNG text when told", async () => {
    gpu.reset();
    const created = await worker.fetch(
      '/v1/jobs',
      jsonPost(alice, { prompt: 'a private job', seed: 9, private: true, png_metadata: false }),
    );
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    let job: { status: string; result?: Generation } = { status: 'queued' };
    for (let i = 0; i < 100 && job.status !== 'succeeded'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = (await (await worker.fetch(`/v1/jobs/${id}`, { headers: bearer(alice) })).json()) as typeof job;
    }
    assert.equal(job.status, 'succeeded');
    assert.equal(gpu.requests[0].png_metadata, false);
    const imageKey = job.result!.data[0].key;
    assert.equal((await remove(bob, imageKey)).status, 404);
    assert.equal((await remove(alice, imageKey)).status, 204);
  });

  test('a private render URL belongs to the key that signed it', async () => {
    const response = await worker.fetch(renderPath(bob, { prompt: 'rendered privately', seed: '7', private: 'true' }));
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const imageKey = /\/v1\/images\/([0-9a-f]{64})\.png$/.exec(response.headers.get('Content-Location') ?? '')?.[1] ?? '';
    assert.equal((await remove(alice, imageKey)).status, 404);
    assert.equal((await remove(bob, imageKey)).status, 204);
  });
});

describe('DELETE /v1/images/{key} refuses', () => {
  test('a shared image (403, saying why and how to ask for removal)', async () => {
    const {
      data: [image],
    } = await generate(alice, { prompt: 'everyone’s', seed: 8 });
    const refused = await remove(alice, image.key);
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { detail: string }).detail, /Shared images cannot be deleted.*private: true.*contact support/);
    assert.equal(await status(new URL(image.url).pathname), 200);
  });

  test('without a key (401), a malformed key (400), an unknown key (404)', async () => {
    assert.equal((await remove(null, 'a'.repeat(64))).status, 401);
    assert.equal((await remove(alice, 'not-a-key')).status, 400);
    assert.equal((await remove(alice, 'b'.repeat(64))).status, 404);
  });
});
