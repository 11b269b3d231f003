// `npm run bench -w edge`: from one run, in workerd (Miniflare) over loopback HTTP,
//   1. cache-hit throughput and latency (POST /v1/images/generations answered from the cache, and
//      GET /v1/images/{key}.png) next to a bare Worker route (GET /healthz) — what auth, rate
//      limiting and the cache lookup cost on top of the platform;
//   2. the miss path (edge → signed GPU call → R2 store → answer) next to calling the same GPU
//      stand-in directly with a signed request — the edge's overhead on a generation.
// Not a test: it prints figures. BENCH_REQUESTS / BENCH_CONCURRENCY / BENCH_MISSES scale it.
import { signedHeaders } from '../../gpu-service/src/server/auth.ts';
import { GENERATE_PATH } from '@star-api/contract';
import { FakeGpu } from '../test/helpers/gpu-server.ts';
import { GPU_SECRET, startWorker } from '../test/helpers/worker.ts';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const MISSES = Number(process.env.BENCH_MISSES ?? 200);
const ROUNDS = 4;

interface Figures {
  name: string;
  count: number;
  rps: number;
  p50: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `count` requests, `concurrency` at a time; each must answer `expect`. */
async function load(
  name: string,
  count: number,
  concurrency: number,
  send: () => Promise<Response>,
  expect = 200,
): Promise<Figures & { latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const t0 = performance.now();
        const response = await send();
        await response.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (response.status !== expect) throw new Error(`${name}: status ${response.status}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { name, count, rps: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), latencies, seconds };
}

function merge(parts: (Figures & { latencies?: number[]; seconds?: number })[]): Figures {
  const latencies = parts.flatMap((part) => part.latencies ?? []).sort((a, b) => a - b);
  const seconds = parts.reduce((sum, part) => sum + (part.seconds ?? 0), 0);
  return {
    name: parts[0].name,
    count: latencies.length,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

function row(f: Figures): string {
  return `${f.name.padEnd(46)} ${String(f.count).padStart(6)} ${f.rps.toFixed(0).padStart(9)} ${f.p50.toFixed(2).padStart(9)} ${f.p99.toFixed(2).padStart(9)}`;
}

const gpu = new FakeGpu(GPU_SECRET);
const gpuUrl = await gpu.start();
const worker = await startWorker({ gpuUrl, vars: { GPU_TIMEOUT_MS: '30000' } });
try {
  const key = await worker.createKey({ limits: { requests: 1_000_000_000, images: 1_000_000_000, concurrent: 1000 } });
  const auth = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
  const hitBody = JSON.stringify({ prompt: 'a benchmark lighthouse', seed: 1 });
  const primed = (await (
    await fetch(`${worker.origin}/v1/images/generations`, { method: 'POST', headers: auth, body: hitBody })
  ).json()) as { data: { url: string }[] };
  // Image URLs name the public origin; the bench reaches the same path on the local Worker.
  const imageUrl = worker.origin + new URL(primed.data[0].url).pathname;

  // Warm-up so JIT and isolate start-up are not measured.
  await load('warm-up', 200, CONCURRENCY, () => fetch(`${worker.origin}/healthz`));
  await load('warm-up', 200, CONCURRENCY, () =>
    fetch(`${worker.origin}/v1/images/generations`, { method: 'POST', headers: auth, body: hitBody }),
  );

  // The machine is shared: cases run interleaved in rounds so background load hits them alike.
  const cases: [string, () => Promise<Response>][] = [
    ['bare Worker route: GET /healthz', () => fetch(`${worker.origin}/healthz`)],
    ['auth + rate limit only: GET /v1/models', () => fetch(`${worker.origin}/v1/models`, { headers: auth })],
    [
      'cache hit: POST /v1/images/generations',
      () => fetch(`${worker.origin}/v1/images/generations`, { method: 'POST', headers: auth, body: hitBody }),
    ],
    ['cache hit: GET /v1/images/{key}.png', () => fetch(imageUrl)],
  ];
  const rounds: Figures[][] = cases.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [name, send]] of cases.entries()) rounds[i].push(await load(name, Math.ceil(REQUESTS / ROUNDS), CONCURRENCY, send));
  }
  const results: Figures[] = rounds.map(merge);
  // Miss path: sequential, unique seeds, so each request is a real miss; the GPU answers at once.
  let seed = 1_000;
  const edgeMiss = await load('miss: edge → GPU stand-in → R2 → answer', MISSES, 1, () =>
    fetch(`${worker.origin}/v1/images/generations`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ prompt: 'a benchmark miss', seed: seed++ }),
    }),
  );
  if (gpu.calls !== MISSES + 1) throw new Error(`expected ${MISSES + 1} GPU calls through the edge, saw ${gpu.calls}`);
  let directSeed = 1_000_000;
  const direct = await load('direct: signed call to the GPU stand-in', MISSES, 1, () => {
    const body = JSON.stringify({
      model: 'star-tiny',
      prompt: 'a benchmark miss',
      negative_prompt: '',
      seeds: [directSeed++],
      cfg: 4.5,
      top_k: 900,
      top_p: 0.95,
      more_smooth: false,
      output_format: 'png',
      preview: false,
    });
    return fetch(gpuUrl + GENERATE_PATH, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...signedHeaders(GPU_SECRET, 'POST', GENERATE_PATH, body) },
      body,
    });
  });
  results.push(edgeMiss, direct);

  console.log(`edge bench — workerd via Miniflare on loopback, concurrency ${CONCURRENCY} for throughput rows, 1 for miss rows`);
  console.log(`${'case'.padEnd(46)} ${'count'.padStart(6)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)}`);
  for (const figures of results) console.log(row(figures));
  const [bare, , hit] = results;
  console.log(
    `cache hit vs bare route: ${((hit.rps / bare.rps) * 100).toFixed(0)}% of the throughput, +${(hit.p50 - bare.p50).toFixed(2)} ms at p50`,
  );
  console.log(
    `miss-path overhead of the edge: +${(edgeMiss.p50 - direct.p50).toFixed(2)} ms at p50, +${(edgeMiss.p99 - direct.p99).toFixed(2)} ms at p99`,
  );
} finally {
  await worker.dispose();
  await gpu.close();
}
