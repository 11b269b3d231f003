// The published artifact, used the way a customer would: `npm pack`, install
// the tarball into an empty project (offline: the SDK has no dependencies),
// then call a local server from a plain .mjs script and type-check a .ts
// consumer against the shipped .d.ts files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/lib/stack.ts';
import { installPackedSdk } from '../../test/helpers/packed-sdk.ts';
import { startServer, type Handler } from './helpers/test-server.ts';

const run = promisify(execFile);
const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');

const consumerScript = `
import { StarClient, NotFoundError } from '@star-api/sdk';
const star = new StarClient({ apiKey: 'sk_pack', baseURL: process.env.STAR_BASE_URL, maxRetries: 0 });
const generated = await star.images.generate({ prompt: 'a fox', seed: 5 });
let notFound = 'none';
try { await star.jobs.get('job_missing'); } catch (error) { notFound = error instanceof NotFoundError ? error.type : String(error); }
const render = await star.renderUrl({ prompt: 'a fox' });
console.log(JSON.stringify({ key: generated.data[0].key, notFound, render }));
`;

const consumerTypes = `
import { StarClient, APIError, type GenerationResponse, type JobEvent, type Job } from '@star-api/sdk';
const star = new StarClient({ apiKey: 'sk_pack', timeout: 1000 });
const response: Promise<GenerationResponse> = star.images.generate({ prompt: 'a fox', n: 2, output_format: 'webp' });
const job: Promise<Job> = star.jobs.wait('job_1', { pollInterval: 100 });
async function follow(): Promise<number | undefined> {
  for await (const event of star.jobs.stream('job_1')) {
    const typed: JobEvent = event;
    if (typed.event === 'progress') return typed.data.scale;
  }
  return undefined;
}
const isApiError = (e: unknown): boolean => e instanceof APIError && e.status >= 400;
// @ts-expect-error: prompt is required
star.images.generate({ n: 1 });
// @ts-expect-error: output_format is an enum
star.images.generate({ prompt: 'x', output_format: 'gif' });
export { response, job, follow, isApiError };
`;

const generation = {
  created: 1,
  model: 'star-tiny',
  data: [{ key: 'b'.repeat(64), seed: 5, width: 64, height: 64, content_type: 'image/png' }],
  timings: { queue_ms: 0, text_ms: 0, generate_ms: 0, decode_ms: 0, encode_ms: 0, total_ms: 0 },
  cached: true,
};

const api: Handler = (res, req) => {
  const authorized = req.headers.authorization === 'Bearer sk_pack';
  if (authorized && req.method === 'POST' && req.url === '/v1/images/generations') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(generation));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/problem+json' }).end(
    JSON.stringify({ type: 'https://star-api.dev/problems/not_found', title: 'Not found', status: 404, detail: req.url, request_id: 'r' }),
  );
};

test('npm pack → install offline → import from .mjs and type-check a .ts consumer', { timeout: 60_000 }, async () => {
  const packed = await installPackedSdk();
  const { project } = packed;
  const server = await startServer(api);
  try {
    const installed = await readdir(join(project, 'node_modules/@star-api/sdk/dist'));
    assert.ok(installed.includes('schema.d.ts') && installed.includes('index.js'), `dist holds ${installed.join(', ')}`);
    assert.ok(!installed.some((name) => name.endsWith('.test.js')), 'tests were packed');

    await writeFile(join(project, 'consumer.mjs'), consumerScript);
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: project, env: { ...process.env, STAR_BASE_URL: server.url } });
    const result = JSON.parse(stdout);
    assert.equal(result.key, 'b'.repeat(64));
    assert.equal(result.notFound, 'https://star-api.dev/problems/not_found');
    assert.match(result.render, /^http:\/\/127\.0\.0\.1:\d+\/v1\/render\?.*&sig=[0-9a-f]{64}$/);

    await writeFile(join(project, 'consumer.ts'), consumerTypes);
    const tsconfig = { compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] }, files: ['consumer.ts'] };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    await run(process.execPath, [tsc, '-p', project]).catch((error: { stdout?: string }) => {
      assert.fail(`tsc rejected the consumer:\n${error.stdout}`);
    });
  } finally {
    await server.close();
    await packed.remove();
  }
});
