// Server benchmark: images/s through the whole HTTP service (auth, queue,
// batcher, engine worker, PNG encoding) under 1, 4 and 16 concurrent clients,
// with micro-batching off (MAX_BATCH=1) and on, side by side, from one run.
//
//   npm run bench -w gpu-service            (real engine, star-tiny, CPU)
//   BENCH_SECONDS=10 DEVICE=cuda MODELS=star-256-d16 npm run bench -w gpu-service
//
// Environment: the service's own variables (MODELS, DEVICE, MODEL_DIR, ENGINE_MODULE,
// MAX_BATCH for the batching run), plus BENCH_SECONDS per cell (default 4) and
// BENCH_CLIENTS (default "1,4,16").
import { signedHeaders } from '../src/server/auth.ts';
import { loadConfig } from '../src/server/config.ts';
import type { ServiceConfig } from '../src/server/config.ts';
import { startService } from '../src/server/server.ts';

const GENERATE_PATH = '/internal/v1/generate';
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const clientCounts = (process.env.BENCH_CLIENTS ?? '1,4,16').split(',').map(Number);
const base = loadConfig({ GPU_SHARED_SECRET: 'bench-secret-bench-secret-bench-secret', ...process.env, PORT: '0', HOST: '127.0.0.1', QUEUE_LIMIT: '1000' });
const model = base.models[0];

interface Cell {
  imagesPerS: number;
  meanBatch: number;
  p50Ms: number;
}

let seed = 0;
async function generateOnce(url: string): Promise<number> {
  const body = JSON.stringify({ model, prompt: 'a lighthouse on a cliff at dusk', seeds: [seed++], output_format: 'png' });
  const started = performance.now();
  const response = await fetch(url + GENERATE_PATH, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...signedHeaders(base.sharedSecret, 'POST', GENERATE_PATH, body) },
  });
  if (response.status !== 200) throw new Error(`generate answered ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
  return performance.now() - started;
}

async function measure(config: ServiceConfig, clients: number): Promise<Cell> {
  const service = await startService(config);
  try {
    await service.ready;
    await Promise.all(Array.from({ length: clients }, () => generateOnce(service.url))); // warm connections and caches
    const batchesBefore = service.metrics.batchSize.count({ model });
    const imagesBefore = service.metrics.batchSize.sum({ model });
    const latencies: number[] = [];
    const endAt = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < endAt) latencies.push(await generateOnce(service.url));
      }),
    );
    const elapsedS = (performance.now() - started) / 1000;
    const batches = service.metrics.batchSize.count({ model }) - batchesBefore;
    const images = service.metrics.batchSize.sum({ model }) - imagesBefore;
    latencies.sort((a, b) => a - b);
    return { imagesPerS: latencies.length / elapsedS, meanBatch: images / Math.max(1, batches), p50Ms: latencies[Math.floor(latencies.length / 2)] };
  } finally {
    await service.shutdown();
  }
}

const modes = {
  'no batching': { ...base, maxBatch: 1, batchWindowMs: 0 },
  'micro-batching': { ...base, maxBatch: Math.max(base.maxBatch, 16) },
};

console.log(`server bench: model ${model}, device ${base.device}, ${seconds} s per cell, batching run MAX_BATCH=${modes['micro-batching'].maxBatch} BATCH_WINDOW_MS=${base.batchWindowMs}`);
const rows: string[][] = [];
for (const clients of clientCounts) {
  const off = await measure(modes['no batching'], clients);
  const on = await measure(modes['micro-batching'], clients);
  rows.push([
    String(clients),
    off.imagesPerS.toFixed(1),
    on.imagesPerS.toFixed(1),
    `${(on.imagesPerS / off.imagesPerS).toFixed(2)}×`,
    on.meanBatch.toFixed(1),
    `${off.p50Ms.toFixed(0)} / ${on.p50Ms.toFixed(0)}`,
  ]);
}
const header = ['clients', 'no batching img/s', 'micro-batching img/s', 'speed-up', 'mean batch', 'p50 ms (off / on)'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
console.log(line(header));
for (const row of rows) console.log(line(row));
