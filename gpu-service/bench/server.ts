// Server benchmark: images/s through the whole HTTP service (auth, queue,
// batcher, engine worker, PNG encoding) under 1, 4 and 16 concurrent clients,
// with micro-batching off (MAX_BATCH=1) and on, side by side, from one run.
//
//   npm run bench -w gpu-service            (real engine, star-tiny, CPU)
//   BENCH_SECONDS=10 DEVICE=cuda MODELS=star-256-d16 npm run bench -w gpu-service
//
// Environment: the service's own variables (MODELS, DEVICE, MODEL_DIR, ENGINE_MODULE,
// MAX_BATCH for the batching run), plus BENCH_SECONDS per cell (default 4) and
// BENCH_CLIENTS (default "1,4,16"). Figures from a shared or busy machine are noisy;
// compare columns of one run, not runs.
import { signedHeaders } from '../src/server/auth.ts';
import { loadConfig } from '../src/server/config.ts';
import { GENERATE_PATH, readFrames } from '@star-api/contract';
import { startService } from '../src/server/server.ts';
import type { RunningService } from '../src/server/server.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const clientCounts = (process.env.BENCH_CLIENTS ?? '1,4,16').split(',').map(Number);
const base = loadConfig({
  GPU_SHARED_SECRET: 'bench-secret-bench-secret-bench-secret',
  ...process.env,
  PORT: '0',
  HOST: '127.0.0.1',
  QUEUE_LIMIT: '1000',
});
const model = base.models[0];

interface Tally {
  images: number;
  seconds: number;
  batches: number;
  batchImages: number;
  latencies: number[];
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
  if (response.status !== 200 || !response.body) throw new Error(`generate answered ${response.status}: ${await response.text()}`);
  for await (const frame of readFrames(response.body))
    if (frame.event === 'error') throw new Error(`generate failed: ${JSON.stringify(frame.data)}`);
  return performance.now() - started;
}

/** One closed-loop round: `clients` clients each send one request after another for `seconds`. */
async function round(service: RunningService, clients: number, seconds: number, tally: Tally): Promise<void> {
  const batchesBefore = service.metrics.batchSize.count({ model });
  const imagesBefore = service.metrics.batchSize.sum({ model });
  const endAt = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < endAt) {
        tally.latencies.push(await generateOnce(service.url));
        tally.images++;
      }
    }),
  );
  tally.seconds += (performance.now() - started) / 1000;
  tally.batches += service.metrics.batchSize.count({ model }) - batchesBefore;
  tally.batchImages += service.metrics.batchSize.sum({ model }) - imagesBefore;
}

const newTally = (): Tally => ({ images: 0, seconds: 0, batches: 0, batchImages: 0, latencies: [] });
const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

// Both services run for the whole bench, and rounds alternate between them, so
// load from anything else on the machine falls on both columns alike.
const off = await startService({ ...base, maxBatch: 1, batchWindowMs: 0 });
// MAX_BATCH from the environment bounds the batching column (a large model's GPU memory plan); else 16.
const batchingMax = process.env.MAX_BATCH ? base.maxBatch : 16;
const on = await startService({ ...base, maxBatch: batchingMax });
await Promise.all([off.ready, on.ready]);
const rounds = 4;
console.log(
  `server bench: model ${model}, device ${base.device}, ${seconds} s per cell in ${rounds} alternating rounds; batching MAX_BATCH=${batchingMax} BATCH_WINDOW_MS=${base.batchWindowMs}`,
);
const rows: string[][] = [];
try {
  for (const clients of clientCounts) {
    const tallies = { off: newTally(), on: newTally() };
    await Promise.all([generateOnce(off.url), generateOnce(on.url)]); // warm connections
    for (let r = 0; r < rounds; r++) {
      await round(off, clients, seconds / rounds, tallies.off);
      await round(on, clients, seconds / rounds, tallies.on);
    }
    const rate = (t: Tally) => t.images / t.seconds;
    rows.push([
      String(clients),
      rate(tallies.off).toFixed(1),
      rate(tallies.on).toFixed(1),
      `${(rate(tallies.on) / rate(tallies.off)).toFixed(2)}×`,
      (tallies.on.batchImages / Math.max(1, tallies.on.batches)).toFixed(1),
      `${p50(tallies.off.latencies).toFixed(0)} / ${p50(tallies.on.latencies).toFixed(0)}`,
    ]);
  }
} finally {
  await Promise.all([off.shutdown(), on.shutdown()]);
}
const header = ['clients', 'no batching img/s', 'micro-batching img/s', 'speed-up', 'mean batch', 'p50 ms (off / on)'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
console.log(line(header));
for (const row of rows) console.log(line(row));
