// The published artifact, used the way a customer would: `npm pack`, install the tarball into an
// empty project (offline: the SDK has no dependencies), then call a local server from a plain
// .mjs script (import) and a .cjs script (require) on every Node this machine has, and
// type-check TypeScript consumers under `module: nodenext` (ESM and CommonJS files) and
// `module: commonjs` against the shipped .d.ts files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/lib/stack.ts';
import { installPackedSdk } from '../../test/helpers/packed-sdk.ts';
import { startServer, type Handler } from './helpers/test-server.ts';

const run = promisify(execFile);
const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
const whsec = `whsec_${'ab'.repeat(32)}`;

// The same calls from both module systems; `load` is the only line that differs.
const consumerBody = (load: string) => `
${load}
const { createHmac } = require_('node:crypto');
async function main() {
  const star = new StarClient({ apiKey: 'sk_pack', baseURL: process.env.STAR_BASE_URL, maxRetries: 0 });
  const { data: generated, requestId, response } = await star.images.generate({ prompt: 'a fox', seed: 5 }).withResponse();
  let notFound = 'none';
  try { await star.jobs.get('job_missing'); } catch (error) { notFound = error instanceof NotFoundError ? error.type : String(error); }
  const render = await star.renderUrl({ prompt: 'a fox' });
  let refused = [];
  try { await star.renderUrl({ prompt: 'a fox', cfg: 99 }); } catch (error) { refused = error instanceof InvalidParamsError ? error.errors.map((e) => e.path) : [String(error)]; }
  const body = JSON.stringify({ id: 'job_1', status: 'succeeded' });
  const t = Math.floor(Date.now() / 1000);
  const signature = 't=' + t + ',v1=' + createHmac('sha256', '${whsec}').update(t + '.' + body).digest('hex');
  const job = await verifyWebhook(body, { 'star-signature': signature }, '${whsec}');
  console.log(JSON.stringify({ key: generated.data[0].key, requestId, rateLimit: response.headers.get('ratelimit'), notFound, render, refused, webhook: job.id, node: process.version }));
}
main().catch((error) => { console.error(error); process.exit(1); });
`;
const consumerMjs = consumerBody(`import { StarClient, NotFoundError, InvalidParamsError, verifyWebhook } from '@star-api/sdk';
import { createRequire } from 'node:module';
const require_ = createRequire(import.meta.url);`);
const consumerCjs = consumerBody(`const { StarClient, NotFoundError, InvalidParamsError, verifyWebhook } = require('@star-api/sdk');
const require_ = require;`);

const consumerTypes = `
import { StarClient, APIError, InvalidParamsError, verifyWebhook, type GenerationResponse, type JobEvent, type Job, type WithResponse } from '@star-api/sdk';
const star = new StarClient({ apiKey: 'sk_pack', timeout: 1000 });
const response: Promise<GenerationResponse> = star.images.generate({ prompt: 'a fox', n: 2, output_format: 'webp' });
const withResponse: Promise<WithResponse<GenerationResponse>> = star.images.generate({ prompt: 'a fox' }).withResponse();
const job: Promise<Job> = star.jobs.wait('job_1', { pollInterval: 100 });
const delivered: Promise<Job> = verifyWebhook('{}', { 'star-signature': 't=1,v1=00' }, 'whsec_x');
async function follow(): Promise<number | undefined> {
  for await (const event of star.jobs.stream('job_1')) {
    const typed: JobEvent = event;
    if (typed.event === 'progress') return typed.data.scale;
  }
  return undefined;
}
const isApiError = (e: unknown): boolean => e instanceof APIError && e.status >= 400;
const fields = (e: unknown): string[] => (e instanceof InvalidParamsError ? e.errors.map((error) => error.path) : []);
// @ts-expect-error: prompt is required
star.images.generate({ n: 1 });
// @ts-expect-error: output_format is an enum
star.images.generate({ prompt: 'x', output_format: 'gif' });
export { response, withResponse, job, delivered, follow, isApiError, fields };
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
    res
      .writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_pack', ratelimit: '"requests";r=59;t=1' })
      .end(JSON.stringify(generation));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/problem+json' }).end(
    JSON.stringify({
      type: 'https://star-api.dev/problems/not_found',
      title: 'Not found',
      status: 404,
      detail: req.url,
      request_id: 'r',
    }),
  );
};

/** Every distinct Node on this machine: the repository's (the test's own) and any other on PATH or in /usr. */
async function nodeBinaries(): Promise<Map<string, string>> {
  const candidates = [
    process.execPath,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'node')),
    '/usr/bin/node',
    '/usr/local/bin/node',
  ];
  const byVersion = new Map<string, string>();
  for (const binary of candidates) {
    if (!existsSync(binary)) continue;
    const version = (await run(binary, ['--version'])).stdout.trim();
    if (!byVersion.has(version)) byVersion.set(version, binary);
  }
  return byVersion;
}

async function typeCheck(project: string, name: string, compilerOptions: Record<string, unknown>, files: string[]): Promise<void> {
  const options = { strict: true, noEmit: true, target: 'es2022', lib: ['es2022', 'dom'], types: [], ...compilerOptions };
  await writeFile(join(project, name), JSON.stringify({ compilerOptions: options, files }));
  await run(process.execPath, [tsc, '-p', join(project, name)]).catch((error: { stdout?: string }) => {
    assert.fail(`tsc (${name}) rejected the consumer:\n${error.stdout}`);
  });
}

test('npm pack → install offline → import and require on every local Node; tsc under nodenext and commonjs', {
  timeout: 120_000,
}, async (t) => {
  const packed = await installPackedSdk();
  const { project } = packed;
  const server = await startServer(api);
  try {
    const dist = join(project, 'node_modules/@star-api/sdk/dist');
    for (const flavour of ['esm', 'cjs']) {
      const installed = await readdir(join(dist, flavour));
      assert.ok(
        ['schema.d.ts', 'index.js', 'index.d.ts', 'package.json'].every((name) => installed.includes(name)),
        `dist/${flavour} holds ${installed.join(', ')}`,
      );
      assert.ok(!installed.some((name) => name.endsWith('.test.js')), 'tests were packed');
      const index = await readFile(join(dist, flavour, 'index.d.ts'), 'utf8');
      assert.match(index, /from '\.\/client\.js'/);
      assert.doesNotMatch(index, /from '\.[^']*\.ts'/, 'declarations import .js, not .ts');
    }

    await writeFile(join(project, 'consumer.mjs'), consumerMjs);
    await writeFile(join(project, 'consumer.cjs'), consumerCjs);
    const nodes = await nodeBinaries();
    t.diagnostic(`Node versions run: ${[...nodes.keys()].join(', ')}`);
    for (const [version, binary] of nodes) {
      for (const script of ['consumer.mjs', 'consumer.cjs']) {
        const { stdout } = await run(binary, [script], { cwd: project, env: { ...process.env, STAR_BASE_URL: server.url } });
        const result = JSON.parse(stdout);
        const where = `${script} on ${version}`;
        assert.equal(result.node, version, where);
        assert.equal(result.key, 'b'.repeat(64), where);
        assert.equal(result.requestId, 'req_pack', where);
        assert.equal(result.rateLimit, '"requests";r=59;t=1', where);
        assert.equal(result.notFound, 'https://star-api.dev/problems/not_found', where);
        assert.match(result.render, /^http:\/\/127\.0\.0\.1:\d+\/v1\/render\?.*&sig=[0-9a-f]{64}$/, where);
        assert.deepEqual(result.refused, ['cfg'], where);
        assert.equal(result.webhook, 'job_1', where);
      }
    }

    // nodenext: an ES module file (.ts in a "type": "module" project) and a CommonJS one (.cts)
    // resolve the `import` and `require` conditions; commonjs (node10 resolution) reads `types`.
    await writeFile(join(project, 'consumer.ts'), consumerTypes);
    await writeFile(join(project, 'consumer-cjs.cts'), consumerTypes);
    await writeFile(join(project, 'consumer-commonjs.ts'), consumerTypes);
    await typeCheck(project, 'tsconfig.nodenext.json', { module: 'nodenext', moduleResolution: 'nodenext' }, [
      'consumer.ts',
      'consumer-cjs.cts',
    ]);
    await typeCheck(project, 'tsconfig.commonjs.json', { module: 'commonjs', esModuleInterop: true }, ['consumer-commonjs.ts']);
  } finally {
    await server.close();
    await packed.remove();
  }
});
