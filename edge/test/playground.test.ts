// The playground at GET / in headless Chromium against the real Worker: key + prompt in, progress
// per scale, the image and its permanent URL out — all through the public API (jobs + SSE).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { FakeGpu } from './helpers/gpu-server.ts';
import { GPU_SECRET, startWorker, type TestWorker } from './helpers/worker.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;
let browser: Browser | null = null;

before(async () => {
  worker = await startWorker({ gpuUrl: await gpu.start() });
  if (existsSync(CHROMIUM)) browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await worker.dispose();
  await gpu.close();
});

test('generate from the playground: scales tick, the image shows, its permanent URL is given', { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}` }, async () => {
  const key = await worker.createKey();
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(worker.origin + '/');
  await page.fill('#key', key);
  await page.dispatchEvent('#key', 'change');
  await page.waitForSelector('#model option[value="star-tiny"]', { state: 'attached' });
  await page.fill('#prompt', 'a fox drawn in the browser');
  await page.fill('#seed', '31');
  await page.click('#go');
  const link = await page.waitForSelector('#permanent-url', { timeout: 15_000 });
  const href = (await link.getAttribute('href')) ?? '';
  assert.match(href, new RegExp(`^${worker.origin}/v1/images/[0-9a-f]{64}\\.png$`));
  assert.equal(await page.locator('#scales span.done').count(), 4);
  const loaded = await page.locator('#result img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0);
  assert.ok(loaded, 'the image loaded from its permanent URL');
  assert.equal(gpu.requests.at(-1)?.seeds[0], 31);
  assert.ok(gpu.requests.at(-1)?.preview, 'the job asked for previews');
  assert.deepEqual(errors, []);
  await page.close();
});
