// SIGTERM against the real entry point in a child process: intake stops,
// accepted work finishes, the process exits 0. Test engine: the in-flight
// request must still be running when the signal arrives.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { readFrames } from '@star-api/contract';
import { GENERATE_PATH, generateBody, signedPost, TEST_ENGINE, TEST_SECRET } from './support/service.ts';

const MAIN = fileURLToPath(new URL('../src/server/main.ts', import.meta.url));

it('drains in-flight work on SIGTERM, refuses new work with 503, then exits 0', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      GPU_SHARED_SECRET: TEST_SECRET,
      PORT: '0',
      HOST: '127.0.0.1',
      ENGINE_MODULE: TEST_ENGINE,
      TEST_ENGINE_SCALE_MS: '150',
      BATCH_WINDOW_MS: '0',
      MAX_BATCH: '1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exited = once(child, 'exit');
  try {
    while (!stdout.includes('gpu-service ready')) await new Promise((r) => setTimeout(r, 10));
    const url = /listening on (http:\/\/\S+)/.exec(stdout)![1];

    const inFlight = readFrames((await signedPost(url, GENERATE_PATH, generateBody({ seeds: [3] }))).body!);
    let frame = await inFlight.next();
    while (frame.value?.event !== 'started') frame = await inFlight.next();

    child.kill('SIGTERM');
    while (!stdout.includes('draining')) await new Promise((r) => setTimeout(r, 5));

    const refused = await signedPost(url, GENERATE_PATH, generateBody({ seeds: [4] }));
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { type: string }).type, 'https://star-api.dev/problems/gpu_unavailable');
    assert.ok(refused.headers.get('retry-after'));
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'draining' });

    const rest: string[] = [];
    for await (const { event, data } of inFlight) rest.push(event === 'image' ? `image ${JSON.stringify(data)}` : event);
    assert.deepEqual(rest.slice(-2), ['image {"seed":3,"format":"png"}', 'result'], 'the in-flight request finished with its image');

    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
