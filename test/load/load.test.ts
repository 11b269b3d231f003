// Bounded load on loopback against the real local stack (edge in workerd → gpu-service on
// star-tiny): cache hits, misses, jobs, image downloads, bad requests and rate-limited keys,
// mixed and concurrent. Short mode (default, CI): 400 requests, 40 at a time. STAR_LOAD=full:
// 3000 requests, 100 at a time. Prints the held load (requests/s, p50/p99) as its last lines.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import {
  FULL,
  PROBLEM_PREFIX,
  assertEdgeProblem,
  assertNoLeak,
  authHeaders,
  call,
  percentile,
  rssBytes,
  sleep,
  stackPids,
  startTestStack,
  waitForJob,
  type Answer,
  type StackPids,
  type TestStack,
} from '../lib/reliability.ts';

const TOTAL = FULL ? 3000 : 400;
const CONCURRENCY = FULL ? 100 : 40;
/** Requests limit of each rate-limited key; each key is sent `LIMITED_EXTRA` more than that. */
const LIMITED_KEYS = [{ requests: 7 }, { requests: 19 }, { requests: 31 }];
const LIMITED_EXTRA = FULL ? 40 : 9;
const HIT_SEEDS = [1, 2, 3, 4];
const MiB = 2 ** 20;

let stack: TestStack;
let pids: StackPids;
let limitedKeys: string[] = [];
const hitUrls: string[] = [];

before(async () => {
  stack = await startTestStack({
    // The bulk key must never be the limit under test; the limited keys are created below.
    keyLimits: { requests: 1_000_000, images: 1_000_000, concurrent: 1000, window: 86_400 },
    gpuEnv: { QUEUE_LIMIT: '256' },
  });
  pids = stackPids(stack);
  // A window of a day: refill during the test is < 0.05 token, so the counts below are exact.
  limitedKeys = await Promise.all(LIMITED_KEYS.map((limits) => stack.createKey({ ...limits, window: 86_400 })));
  for (const seed of HIT_SEEDS) {
    const answer = await call(`${stack.edgeUrl}/v1/images/generations`, {
      method: 'POST',
      headers: authHeaders(stack.apiKey),
      body: JSON.stringify({ prompt: 'load test: cached lighthouse', seed }),
    });
    assert.equal(answer.status, 200, answer.text);
    hitUrls.push((JSON.parse(answer.text) as { data: { url: string }[] }).data[0].url);
  }
});

after(async () => {
  await stack?.dispose();
});

type Kind = 'hit' | 'miss' | 'job' | 'image' | 'bad' | 'limited';

interface Outcome {
  kind: Kind;
  label: string;
  answer?: Answer;
  error?: string;
  expect: number[];
}

/** The request mix: index → one request; deterministic, so a failure names its request. */
function plan(total: number): (() => Promise<Outcome>)[] {
  const edge = stack.edgeUrl;
  const bulk = authHeaders(stack.apiKey);
  const send = (kind: Kind, label: string, expect: number[], url: string, init?: RequestInit) => async (): Promise<Outcome> => {
    try {
      return { kind, label, expect, answer: await call(url, init, 90_000) };
    } catch (error) {
      return { kind, label, expect, error: String(error) };
    }
  };
  const bad: [string, number, string, RequestInit][] = [
    ['truncated JSON', 400, '/v1/images/generations', { method: 'POST', headers: bulk, body: '{"prompt":' }],
    ['prompt of the wrong type', 400, '/v1/images/generations', { method: 'POST', headers: bulk, body: '{"prompt":5}' }],
    [
      'no Authorization',
      401,
      '/v1/images/generations',
      { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"prompt":"x"}' },
    ],
    ['unknown key', 401, '/v1/models', { headers: authHeaders(`sk_${'x'.repeat(40)}`) }],
    ['unknown job', 404, '/v1/jobs/job_doesnotexist1234', { headers: bulk }],
    ['unknown image', 404, `/v1/images/${'0'.repeat(64)}.png`, {}],
    [
      'body over 64 KiB',
      413,
      '/v1/images/generations',
      { method: 'POST', headers: bulk, body: JSON.stringify({ prompt: 'x'.repeat(70_000) }) },
    ],
    ['n out of range', 400, '/v1/jobs', { method: 'POST', headers: bulk, body: '{"prompt":"x","n":99}' }],
  ];
  const limited: (() => Promise<Outcome>)[] = [];
  LIMITED_KEYS.forEach((limits, k) => {
    for (let i = 0; i < limits.requests + LIMITED_EXTRA; i++) {
      limited.push(send('limited', `limited key ${k}`, [200, 429], `${edge}/v1/models`, { headers: authHeaders(limitedKeys[k]) }));
    }
  });
  const requests: (() => Promise<Outcome>)[] = [];
  for (let i = 0; requests.length + limited.length < total; i++) {
    const slot = i % 20;
    if (slot < 8) {
      const seed = HIT_SEEDS[i % HIT_SEEDS.length];
      requests.push(
        send('hit', `hit seed ${seed}`, [200], `${edge}/v1/images/generations`, {
          method: 'POST',
          headers: bulk,
          body: JSON.stringify({ prompt: 'load test: cached lighthouse', seed }),
        }),
      );
    } else if (slot < 11) {
      // Misses: every third repeats the seed sent two requests earlier, likely still in flight (coalescing).
      const seed = 100_000 + (slot === 10 ? i - 2 : i);
      requests.push(
        send('miss', `miss seed ${seed}`, [200, 503], `${edge}/v1/images/generations`, {
          method: 'POST',
          headers: bulk,
          body: JSON.stringify({ prompt: 'load test: a fresh fox', seed }),
        }),
      );
    } else if (slot < 13) {
      requests.push(
        send('job', `job seed ${i}`, [202, 503], `${edge}/v1/jobs`, {
          method: 'POST',
          headers: bulk,
          body: JSON.stringify({ prompt: 'load test: a queued owl', seed: 200_000 + i }),
        }),
      );
    } else if (slot < 16) {
      requests.push(send('image', 'image download', [200], hitUrls[i % hitUrls.length]));
    } else {
      const [label, status, path, init] = bad[i % bad.length];
      requests.push(send('bad', label, [status], `${edge}${path}`, init));
    }
  }
  // Spread the rate-limited requests evenly through the mix.
  const mixed: (() => Promise<Outcome>)[] = [];
  const every = Math.max(1, Math.floor((requests.length + limited.length) / limited.length));
  let l = 0;
  for (let i = 0; i < requests.length; i++) {
    mixed.push(requests[i]);
    if (i % every === 0 && l < limited.length) mixed.push(limited[l++]);
  }
  while (l < limited.length) mixed.push(limited[l++]);
  return mixed;
}

async function runAll(
  tasks: (() => Promise<Outcome>)[],
  concurrency: number,
): Promise<{ outcomes: Outcome[]; seconds: number; peakRss: StackPids }> {
  const outcomes: Outcome[] = new Array(tasks.length);
  const peakRss = { gpu: rssBytes(pids.gpu), workerd: rssBytes(pids.workerd) };
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peakRss.gpu = Math.max(peakRss.gpu, rssBytes(pids.gpu));
      peakRss.workerd = Math.max(peakRss.workerd, rssBytes(pids.workerd));
      await sleep(250);
    }
  })();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const index = next++;
        outcomes[index] = await tasks[index]();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  done = true;
  await sampler;
  return { outcomes, seconds, peakRss };
}

test(`${TOTAL} mixed requests, ${CONCURRENCY} concurrent: every one answered as documented, limits exact, jobs terminal, images whole, memory bounded`, async () => {
  const rssBefore = { gpu: rssBytes(pids.gpu), workerd: rssBytes(pids.workerd) };
  const { outcomes, seconds, peakRss } = await runAll(plan(TOTAL), CONCURRENCY);
  const secrets = [stack.secrets.GPU_SHARED_SECRET, stack.secrets.URL_SIGNING_KEY, stack.apiKey, ...limitedKeys];

  // 1. No request without a response.
  const unanswered = outcomes.filter((o) => !o.answer);
  assert.deepEqual(
    unanswered.map((o) => `${o.label}: ${o.error}`),
    [],
    'requests without a response',
  );

  // 2. Each answered with a documented status; every error a problem+json without leaks.
  const byStatus: Record<number, number> = {};
  for (const o of outcomes) {
    const a = o.answer!;
    byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    assert.ok(o.expect.includes(a.status), `${o.label}: status ${a.status}, expected ${o.expect.join('|')}: ${a.text.slice(0, 300)}`);
    if (a.status >= 400) {
      const problem = assertEdgeProblem(a, a.text, o.label);
      if (a.status === 429 || a.status === 503)
        assert.ok(Number(a.headers.get('retry-after')) >= 1, `${o.label}: ${a.status} without Retry-After`);
      if (a.status === 429) assert.equal(problem.type, `${PROBLEM_PREFIX}rate_limited`);
      assertNoLeak(a.text, secrets, o.label);
    }
  }

  // 3. Rate limits enforced exactly per key: R allowed, the rest 429.
  LIMITED_KEYS.forEach((limits, k) => {
    const mine = outcomes.filter((o) => o.label === `limited key ${k}`);
    assert.equal(mine.length, limits.requests + LIMITED_EXTRA);
    assert.equal(mine.filter((o) => o.answer!.status === 200).length, limits.requests, `key ${k}: successes`);
    assert.equal(mine.filter((o) => o.answer!.status === 429).length, LIMITED_EXTRA, `key ${k}: 429s`);
  });

  // 4. Every accepted job reaches a terminal state.
  const jobIds = outcomes
    .filter((o) => o.kind === 'job' && o.answer!.status === 202)
    .map((o) => (JSON.parse(o.answer!.text) as { id: string }).id);
  assert.ok(jobIds.length > 0, 'some jobs were accepted');
  const jobs = [];
  for (const id of jobIds) jobs.push(await waitForJob(stack.edgeUrl, stack.apiKey, id, 120_000));
  const jobStatuses: Record<string, number> = {};
  for (const job of jobs) jobStatuses[job.status] = (jobStatuses[job.status] ?? 0) + 1;
  assert.ok(
    jobs.every((job) => job.status === 'succeeded' || (job.status === 'failed' && job.error?.status === 503)),
    `job outcomes ${JSON.stringify(jobStatuses)}`,
  );

  // 5. No partial image: every URL handed out is fetchable in full and decodes to the model's size.
  const urls = new Set<string>(hitUrls);
  for (const o of outcomes) {
    if (o.kind === 'miss' && o.answer!.status === 200)
      for (const image of (JSON.parse(o.answer!.text) as { data: { url: string }[] }).data) urls.add(image.url);
  }
  for (const job of jobs) for (const image of job.result?.data ?? []) urls.add(image.url);
  const list = [...urls];
  for (let i = 0; i < list.length; i += 8) {
    await Promise.all(
      list.slice(i, i + 8).map(async (url) => {
        const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
        assert.equal(response.status, 200, url);
        const bytes = Buffer.from(await response.arrayBuffer());
        assert.equal(Number(response.headers.get('content-length') ?? bytes.length), bytes.length, `${url}: length`);
        const meta = await sharp(bytes).metadata();
        assert.equal(meta.format, 'png', url);
        assert.ok(meta.width! > 0 && meta.width === meta.height, `${url}: ${meta.width}×${meta.height}`);
        await sharp(bytes).raw().toBuffer(); // decodes every pixel: a truncated file throws
      }),
    );
  }

  // 6. Memory of both processes stays bounded (a leak per request would show at this count).
  const rssAfter = { gpu: rssBytes(pids.gpu), workerd: rssBytes(pids.workerd) };
  const bound = (before: number) => before * 2 + 256 * MiB;
  assert.ok(peakRss.gpu < bound(rssBefore.gpu), `gpu-service RSS ${rssBefore.gpu / MiB} → peak ${peakRss.gpu / MiB} MiB`);
  assert.ok(peakRss.workerd < bound(rssBefore.workerd), `workerd RSS ${rssBefore.workerd / MiB} → peak ${peakRss.workerd / MiB} MiB`);

  // Health after the storm: both services still answer.
  assert.equal((await call(`${stack.edgeUrl}/healthz`)).status, 200);
  assert.equal((await call(`${stack.gpuUrl}/readyz`)).status, 200);

  const latencies = outcomes.map((o) => o.answer!.ms).sort((a, b) => a - b);
  const hits = outcomes
    .filter((o) => o.kind === 'hit')
    .map((o) => o.answer!.ms)
    .sort((a, b) => a - b);
  const mb = (x: number) => (x / MiB).toFixed(0);
  const unavailable = outcomes
    .filter((o) => o.answer!.status >= 500)
    .map((o) => `${o.label}: ${(JSON.parse(o.answer!.text) as { detail: string }).detail}`);
  if (unavailable.length) {
    const lines = (output: string) =>
      output
        .split('\n')
        .filter((line) => /gpu|error|econn|reset|refused/i.test(line))
        .slice(-3)
        .join('\n');
    console.log(
      `load: ${unavailable.length} GPU failures seen by the edge; last related log lines, edge:\n${lines(stack.edge.output())}\ngpu-service:\n${lines(stack.gpu.output())}`,
    );
  }
  console.log(
    `load: statuses ${JSON.stringify(byStatus)}; jobs ${JSON.stringify(jobStatuses)}; ${list.length} image URLs verified${unavailable.length ? `; 5xx: ${unavailable.slice(0, 5).join('; ')}` : ''}`,
  );
  console.log(
    `load: RSS gpu-service ${mb(rssBefore.gpu)} → peak ${mb(peakRss.gpu)} → ${mb(rssAfter.gpu)} MiB; workerd ${mb(rssBefore.workerd)} → peak ${mb(peakRss.workerd)} → ${mb(rssAfter.workerd)} MiB`,
  );
  console.log(
    `load: held ${(outcomes.length / seconds).toFixed(1)} requests/s for ${seconds.toFixed(1)} s (${outcomes.length} requests, ${CONCURRENCY} concurrent${FULL ? ', full mode' : ', short mode'})`,
  );
  console.log(
    `load: latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (cache hits p50 ${percentile(hits, 50).toFixed(1)} ms, p99 ${percentile(hits, 99).toFixed(1)} ms)`,
  );
});
