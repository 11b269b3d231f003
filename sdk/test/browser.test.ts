// The built SDK inside headless Chromium: plain fetch, Web Crypto and
// ReadableStream, with no Node in sight. One page, served by a local server
// that also plays the API (same origin, so CORS is not what is tested here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { launchChromium } from '../../test/helpers/chromium.ts';
import { startServer, type Handler } from './helpers/test-server.ts';

const run = promisify(execFile);
const sdkRoot = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(sdkRoot, '../node_modules/typescript/bin/tsc');

function sseText(): string {
  const job = {
    id: 'job_b',
    object: 'job',
    status: 'succeeded',
    model: 'star-tiny',
    created_at: 1,
    expires_at: 2,
    progress: { scale: 4, scales: 4 },
  };
  return `id: 1\nevent: progress\ndata: {"scale":1,"scales":4,"side":1}\n\n: keepalive\n\nid: 2\nevent: completed\ndata: ${JSON.stringify({ job })}\n\n`;
}

test('in Chromium: retries with one Idempotency-Key, typed errors, SSE and Web Crypto signing', { timeout: 60_000 }, async () => {
  const dist = await mkdtemp(join(tmpdir(), 'star-sdk-browser-'));
  await run(process.execPath, [tsc, '-p', join(sdkRoot, 'tsconfig.build.json'), '--outDir', dist]);
  let generateCalls = 0;
  const site: Handler = async (res, req) => {
    const [path] = req.url.split('?');
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>sdk</title>');
    } else if (path.startsWith('/sdk/')) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(join(dist, path.slice('/sdk/'.length))));
    } else if (path === '/v1/images/generations') {
      generateCalls++;
      if (generateCalls === 1) {
        res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '0' });
        res.end(
          JSON.stringify({ type: 'https://star-api.dev/problems/gpu_unavailable', title: 't', status: 503, detail: 'd', request_id: 'r' }),
        );
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ created: 1, model: 'star-tiny', data: [], timings: {}, cached: true, echo: JSON.parse(req.body) }));
      }
    } else if (path === '/v1/jobs/job_b/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const char of sseText()) res.write(char);
      res.end();
    } else {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'https://star-api.dev/problems/not_found',
          title: 'Not found',
          status: 404,
          detail: path,
          request_id: 'req_404',
        }),
      );
    }
  };
  const server = await startServer(site);
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/`);
    const result = await page.evaluate(async () => {
      // A runtime URL, so neither tsc nor Node tries to resolve it.
      const sdkUrl = '/sdk/index.js';
      const sdk = await import(sdkUrl);
      const star = new sdk.StarClient({ apiKey: 'sk_browser', baseURL: location.origin, maxRetries: 1 });
      const generated = await star.images.generate({ prompt: 'a fox' });
      let notFound = '';
      try {
        await star.jobs.get('job_missing');
      } catch (error) {
        const { status, requestId } = error as { status: number; requestId: string };
        notFound = error instanceof sdk.NotFoundError ? `${status} ${requestId}` : String(error);
      }
      const events: string[] = [];
      for await (const event of star.jobs.stream('job_b')) events.push(`${event.id}:${event.event}`);
      const render: string = await star.renderUrl({ prompt: 'a fox', seed: 3 });
      return { seed: generated.echo.seed, notFound, events, render };
    });
    const generations = server.requests.filter((r) => r.url === '/v1/images/generations');
    assert.equal(generations.length, 2);
    assert.equal(generations[1].headers['idempotency-key'], generations[0].headers['idempotency-key']);
    assert.equal(generations[1].body, generations[0].body);
    assert.ok(Number.isInteger(result.seed), 'the SDK filled in a seed');
    assert.equal(result.notFound, '404 req_404');
    assert.deepEqual(result.events, ['1:progress', '2:completed']);

    const url = new URL(result.render);
    const canonical = url.search.slice(1).replace(/&sig=[0-9a-f]+$/, '');
    const signingKey = createHmac('sha256', 'sk_browser').update('star-api render v1').digest();
    assert.equal(url.searchParams.get('sig'), createHmac('sha256', signingKey).update(canonical).digest('hex'));
  } finally {
    await browser.close();
    await server.close();
    await rm(dist, { recursive: true, force: true });
  }
});
