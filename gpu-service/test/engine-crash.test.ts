// Engine faults. A worker dying mid-batch (CUDA fault, out of memory): accepted work
// gets a clear 500, nothing hangs, the service stops claiming readiness, and
// `engineFailed` fires so main.ts exits for a restart. Test engine: fault injection.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CRASH_PROMPT } from './support/test-engine.ts';
import { loadConfig } from '../src/server/config.ts';
import { startService } from '../src/server/server.ts';
import { GENERATE_PATH, generateBody, readAnswer, signedPost, startTestService, TEST_ENGINE_ENV, TEST_SECRET } from './support/service.ts';

it('answers 500 generation_failed to in-flight work when the engine dies, then reports not ready', { timeout: 20_000 }, async () => {
  const service = await startTestService({ ...TEST_ENGINE_ENV, BATCH_WINDOW_MS: '20' });
  try {
    const [crashing, bystander] = await Promise.all([
      signedPost(service.url, GENERATE_PATH, generateBody({ prompt: CRASH_PROMPT })),
      signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [2] })),
    ]);
    for (const answer of [await readAnswer(crashing), await readAnswer(bystander)]) {
      assert.equal(answer.error?.status, 500);
      assert.equal(answer.error?.type, 'https://star-api.dev/problems/generation_failed');
    }
    assert.match((await service.engineFailed).message, /exited with code 70/);

    const ready = await fetch(`${service.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'failed' });
    assert.equal((await fetch(`${service.url}/healthz`)).status, 200);
    const after = await signedPost(service.url, GENERATE_PATH, generateBody());
    assert.equal(after.status, 503);
    assert.ok(after.headers.get('retry-after'));
  } finally {
    await service.shutdown();
  }
});

it('reports an engine that cannot load its models: ready rejects with the reason, /readyz stays 503', async () => {
  const config = loadConfig({
    GPU_SHARED_SECRET: TEST_SECRET,
    PORT: '0',
    HOST: '127.0.0.1',
    MODELS: 'star-tiny,star-missing',
    ...TEST_ENGINE_ENV,
  });
  const service = await startService(config);
  try {
    await assert.rejects(service.ready, /engine failed to load: .*unknown model star-missing/);
    assert.equal((await fetch(`${service.url}/readyz`)).status, 503);
    assert.equal((await signedPost(service.url, GENERATE_PATH, generateBody())).status, 503);
  } finally {
    await service.shutdown();
  }
});
