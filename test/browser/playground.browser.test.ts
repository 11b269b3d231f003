// The playground (GET /) in headless Debian Chromium against the whole local
// stack — the edge in workerd, the real gpu-service on star-tiny — as a person
// uses it: key and prompt in, progress per scale, the image, its permanent URL.
// A screenshot of the finished page is kept in test-results/playground.png, and one
// at a phone's width (390 px) in test-results/playground-390.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { StarClient } from '@star-api/sdk';
import { ROOT } from '../../scripts/lib/stack.ts';
import { launchChromium, type HeadlessChromium } from '../helpers/chromium.ts';
import { startTestStack, type TestStack } from '../lib/reliability.ts';

const SCREENSHOT = join(ROOT, 'test-results/playground.png');
const NARROW_SCREENSHOT = join(ROOT, 'test-results/playground-390.png');

let stack: TestStack;
let browser: HeadlessChromium;

before(async () => {
  const [started, launched] = await Promise.allSettled([startTestStack(), launchChromium()]);
  // Keep whatever started, so that after() stops it even when the other half failed.
  if (started.status === 'fulfilled') stack = started.value;
  if (launched.status === 'fulfilled') browser = launched.value;
  for (const result of [started, launched]) if (result.status === 'rejected') throw result.reason;
});

after(async () => {
  await browser?.close();
  await stack?.dispose();
});

/** Key, prompt and seed in, Generate; resolves with the permanent URL's link once it shows. */
async function generateInPage(page: Page, prompt: string, seed: number) {
  await page.fill('#key', stack.apiKey);
  await page.dispatchEvent('#key', 'change');
  await page.waitForSelector('#model option[value="star-tiny"]', { state: 'attached' });
  await page.fill('#prompt', prompt);
  await page.fill('#seed', String(seed));
  await page.click('#go');
  return page.waitForSelector('#permanent-url', { timeout: 30_000 });
}

test('the playground: key and prompt in, every scale ticks, the image shows, its permanent URL serves it', {
  timeout: 60_000,
}, async () => {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 900, height: 1000 });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  // Chromium asks for /favicon.ico on its own; the page has none, and that is no error of the page's.
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) errors.push(`${response.status()} ${response.url()}`);
  });

  await page.goto(`${stack.edgeUrl}/`);
  assert.equal(await page.title(), 'star-api playground');
  // Every status line the page shows, as it shows it (progress can outrun polling), and whether
  // Generate was disabled at that moment.
  await page.evaluate(() => {
    const seen: string[] = [];
    const disabled: boolean[] = [];
    Object.assign(window, { statusLines: seen, goDisabled: disabled });
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) {
          seen.push(node.textContent ?? '');
          disabled.push((document.getElementById('go') as HTMLButtonElement).disabled);
        }
      }
    }).observe(document.getElementById('status')!, { childList: true });
  });

  const link = await generateInPage(page, 'red heart on a blue background', 42);
  const { statusLines, goDisabled } = await page.evaluate(() => {
    const seen = window as unknown as { statusLines: string[]; goDisabled: boolean[] };
    return { statusLines: seen.statusLines, goDisabled: seen.goDisabled };
  });
  const running = statusLines.findIndex((line) => line.startsWith('Done'));
  assert.ok(running > 0, `status lines: ${JSON.stringify(statusLines)}`);
  assert.deepEqual(
    goDisabled.slice(0, running),
    statusLines.slice(0, running).map(() => true),
    'Generate stays disabled while the job runs',
  );
  await page.waitForFunction(() => !(document.getElementById('go') as HTMLButtonElement).disabled);
  const scales = (await new StarClient({ apiKey: stack.apiKey, baseURL: stack.edgeUrl }).models.list()).data.find(
    (m) => m.id === 'star-tiny',
  )!.scales;
  const progress = statusLines.filter((line) => line.startsWith('Scale '));
  assert.deepEqual(
    progress.map((line) => line.replace(/ \(.*$/, '')),
    scales.map((_, i) => `Scale ${i + 1} of ${scales.length}`),
    `status lines: ${JSON.stringify(statusLines)}`,
  );
  assert.equal(await page.locator('#scales span.done').count(), scales.length);
  assert.equal(await page.locator('#preview').isVisible(), true, 'a preview was shown during generation');

  const href = (await link.getAttribute('href')) ?? '';
  assert.match(href, new RegExp(`^${stack.edgeUrl}/v1/images/[0-9a-f]{64}\\.png$`));
  const img = page.locator('#result img');
  await img.evaluate((element: HTMLImageElement) => element.decode());
  assert.equal(await img.evaluate((element: HTMLImageElement) => element.naturalWidth), 64);
  assert.equal(await img.getAttribute('src'), href);
  assert.match((await page.textContent('#status')) ?? '', /^Done/);

  const served = await fetch(href);
  assert.equal(served.status, 200);
  assert.equal(served.headers.get('content-type'), 'image/png');
  assert.equal((await sharp(Buffer.from(await served.arrayBuffer())).metadata()).width, 64);

  await mkdir(join(ROOT, 'test-results'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Following the link in the browser opens the image itself.
  await page.click('#permanent-url');
  await page.waitForURL(href);
  const opened = await page.locator('img').evaluate((element: HTMLImageElement) => [element.naturalWidth, element.naturalHeight]);
  assert.deepEqual(opened, [64, 64]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a signed render URL works as an <img src> in the page', { timeout: 60_000 }, async () => {
  const src = await new StarClient({ apiKey: stack.apiKey, baseURL: stack.edgeUrl }).renderUrl({
    prompt: 'a kite over the dunes',
    seed: 8,
  });
  const page = await browser.context.newPage();
  await page.goto(`${stack.edgeUrl}/`);
  const size = await page.evaluate(async (url) => {
    const img = new Image();
    img.src = url;
    await img.decode();
    document.body.append(img);
    return [img.naturalWidth, img.naturalHeight];
  }, src);
  assert.deepEqual(size, [64, 64]);
  await page.close();
});

test('on a 390 px wide screen nothing scrolls sideways and the long permanent URL wraps', { timeout: 60_000 }, async () => {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${stack.edgeUrl}/`);
  const link = await generateInPage(page, 'a narrow lighthouse', 390);
  const href = (await link.getAttribute('href')) ?? '';
  assert.ok(href.length > 60, 'the URL is longer than a phone line');
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, 'the page is no wider than the screen');
  const box = (await link.boundingBox())!;
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the link stays on screen: ${JSON.stringify(box)}`);
  const lineHeight = await link.evaluate((element) => parseFloat(getComputedStyle(element.parentElement!).lineHeight));
  assert.ok(box.height > 1.5 * lineHeight, `the URL wraps onto more than one line: ${box.height} px at ${lineHeight} px a line`);
  await mkdir(join(ROOT, 'test-results'), { recursive: true });
  await page.screenshot({ path: NARROW_SCREENSHOT, fullPage: true });
  await page.close();
});
