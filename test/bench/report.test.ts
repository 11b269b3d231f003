// `npm run bench` reads what the package benchmarks print: these are their real outputs (from
// bench/results/logs) and what the report must make of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEdgeBench, parseServerBench, summarize, triple, type DecoderRun, type EngineConfig } from '../../bench/parse.ts';
import { renderMarkdown, type Report } from '../../bench/report.ts';

const SERVER_OUTPUT = `server bench: model star-tiny, device cpu, 4 s per cell in 4 alternating rounds; batching MAX_BATCH=16 BATCH_WINDOW_MS=5
clients  no batching img/s  micro-batching img/s  speed-up  mean batch  p50 ms (off / on)
      1               62.2                  59.6     0.96×         1.0            13 / 14
      4               60.5                  72.7     1.20×         2.1            60 / 46
     16               63.2                  83.9     1.33×         8.5          225 / 174
`;

const edgeOutput = (hitRps: number) => `edge bench — workerd via Miniflare on loopback, concurrency 8 for throughput rows, 1 for miss rows
case                                            count     req/s    p50 ms    p99 ms
bare Worker route: GET /healthz                  1200      1865      2.87     22.96
auth + rate limit only: GET /v1/models           1200       787      8.94     32.10
cache hit: POST /v1/images/generations           1200       ${hitRps}     11.21     27.22
cache hit: GET /v1/images/{key}.png              1200      1422      4.36     24.26
miss: edge → GPU stand-in → R2 → answer           100        72     13.40     31.76
direct: signed call to the GPU stand-in           100      1882      0.45      4.51
cache hit vs bare route: 34% of the throughput, +8.34 ms at p50
`;

const engineConfig = (mode: 'all' | 'per-scale', batch: number, totals: number[]): EngineConfig => ({
  model: 'star-tiny',
  mode,
  batch,
  threads: 2,
  loadMs: 300,
  peakRssBytes: 2 ** 30 * (mode === 'all' ? 1 : 2),
  baselineGflops: 50,
  runs: totals.map((totalMs) => ({ textMs: 1, generateMs: totalMs - 2, decodeMs: 1, totalMs })),
});

test('triple: min, median (mean of the middle two when even) and max, ignoring non-finite values', () => {
  assert.deepEqual(triple([3, 1, 2]), { min: 1, median: 2, max: 3, n: 3 });
  assert.deepEqual(triple([4, 1, 3, 2, NaN]), { min: 1, median: 2.5, max: 4, n: 4 });
  assert.equal(triple([]).n, 0);
});

test('the server table parses into one row per client count', () => {
  const run = parseServerBench(SERVER_OUTPUT);
  assert.equal(run.model, 'star-tiny');
  assert.deepEqual(
    run.rows.map((row) => row.clients),
    [1, 4, 16],
  );
  assert.deepEqual(run.rows[2], {
    clients: 16,
    offImagesPerSecond: 63.2,
    onImagesPerSecond: 83.9,
    meanBatch: 8.5,
    p50OffMs: 225,
    p50OnMs: 174,
  });
  assert.throws(() => parseServerBench('nothing here'), /no header line/);
});

test('edge ratios pair figures of the same run, then summarise over runs', () => {
  const runs = [parseEdgeBench(edgeOutput(633)), parseEdgeBench(edgeOutput(1865))];
  assert.equal(runs[0].miss.count, 100);
  const summary = summarize([], [], runs);
  const hitRatio = summary.edge!.ratios[0];
  assert.match(hitRatio.what, /cache hit .* ÷ bare route/);
  assert.deepEqual(hitRatio.ratio, triple([633 / 1865, 1]));
  assert.deepEqual(summary.edge!.overheads[1].ms, triple([13.4 - 0.45, 13.4 - 0.45]));
  assert.throws(() => parseEdgeBench('case count\n'), /no "bare Worker route" row/);
});

test('engine ratios pair repeat i with repeat i of the other configuration', () => {
  const configs = [engineConfig('all', 1, [10, 20]), engineConfig('all', 4, [20, 40]), engineConfig('per-scale', 1, [30, 40])];
  const { figures, ratios } = summarize(configs, [], []).engine;
  assert.deepEqual(figures[1].secondsPerImage, triple([0.005, 0.01]));
  const speedUp = ratios.find((r) => r.what.includes('batch 4 over batch 1'))!;
  assert.deepEqual(speedUp.ratio, triple([10 / 5, 20 / 10]));
  const perScale = ratios.find((r) => r.what.includes('per-scale time'))!;
  assert.deepEqual(perScale.ratio, triple([3, 2]));
  assert.deepEqual(ratios.find((r) => r.what.includes('peak RSS'))!.ratio, triple([2]));
});

test('the markdown report shows every section with min / median / max', () => {
  const report: Report = {
    createdAt: '2026-11-23T00:00:00.000Z',
    durationSeconds: 60,
    settings: { runs: 1 },
    machine: { cpus: 2, cpuModel: 'test', memoryGiB: 8, node: 'v24', loadAverageAtStart: [1, 1, 1], loadAverageAtEnd: [1, 1, 1] },
    ...summarize([engineConfig('all', 1, [10, 20, 30])], [parseServerBench(SERVER_OUTPUT)], [parseEdgeBench(edgeOutput(633))]),
  };
  const markdown = renderMarkdown(report);
  for (const heading of ['## Engine', '## gpu-service', '## Edge']) assert.ok(markdown.includes(heading), heading);
  assert.ok(markdown.includes('0.010 / **0.020** / 0.030'), 'engine s/image as min / median / max');
  assert.ok(markdown.includes('| 16 clients: images/s with micro-batching ÷ without | 1.33× |'));
});

test('int8 engine figures pair with the fp32 ones of the same model, mode and batch, against the targets', () => {
  const int8 = { ...engineConfig('all', 1, [4, 8]), precision: 'int8', weightPssBytes: 30, peakRssBytes: 2 ** 29 };
  const fp32 = { ...engineConfig('all', 1, [10, 20]), precision: 'fp32', weightPssBytes: 100 };
  const { figures, ratios } = summarize([fp32, engineConfig('all', 4, [20, 40]), int8], [], []).engine;
  assert.deepEqual(
    figures.map((f) => f.precision),
    ['fp32', 'fp32', 'int8'],
  );
  const ratio = (what: string) => ratios.find((r) => r.what.includes(what))?.ratio;
  assert.deepEqual(ratio('int8 ÷ fp32 s/image (target ≤ 0.4×)'), triple([0.4, 0.4]));
  assert.deepEqual(ratio('int8 ÷ fp32 weights in memory (target ≤ 0.35×)'), triple([0.3]));
  assert.deepEqual(ratio('int8 ÷ fp32 peak RSS'), triple([0.5]));
  assert.equal(ratios.filter((r) => r.what.includes('batch 4 over batch 1')).length, 1, 'int8 batch 1 is not paired with fp32 batch 4');
});

test('each run is set against its floor (its FLOPs at the MatMul probe rate), with the d16 fp32 targets', () => {
  const flops = { text: 1e9, scales: [2e9, 5e9], decode: 2e9 }; // 10 GFLOP a run
  const d16 = (batch: number, totals: number[]) => ({ ...engineConfig('all', batch, totals), model: 'star-256-d16', flops });
  const { ratios } = summarize([d16(1, [250, 300]), d16(4, [700, 800])], [], []).engine;
  // 10 GFLOP at 50 GFLOP/s: a 200 ms floor.
  const atBatch1 = ratios.find((r) => r.what.includes('batch 1: time ÷ floor'));
  assert.match(atBatch1?.what ?? '', /\(target ≤ 1\.25×\)/);
  assert.deepEqual(atBatch1?.ratio, triple([1.25, 1.5]));
  const speedUp = ratios.find((r) => r.what.includes('batch 4 over batch 1'));
  assert.match(speedUp?.what ?? '', /\(target ≥ 1\.43×\)/);
  assert.deepEqual(speedUp?.ratio, triple([250 / 175, 300 / 200]));
  assert.ok(!ratios.find((r) => r.what.includes('batch 4: time ÷ floor'))?.what.includes('target'));
  const int8 = { ...d16(1, [100, 120]), precision: 'int8' };
  const withInt8 = summarize([d16(1, [250, 300]), int8], [], []).engine.ratios;
  assert.equal(withInt8.filter((r) => r.what.includes('time ÷ floor')).length, 1, 'no floor for int8 (fp32 FLOPs at the fp32 rate)');
});

test('the decoder section pairs upstream round r with ours round r, against the ≥ 2× target', () => {
  const run: DecoderRun = {
    side: 16,
    batch: 1,
    threads: 2,
    variants: [
      { name: 'arena off, pattern on', seconds: [2, 1.5, 3] },
      { name: 'arena on, pattern on', seconds: [9, 9, 9] },
    ],
    upstream: { version: '1.13.0', seconds: [4, 4.5, 3] },
  };
  const { decoder } = summarize([], [], [], run);
  assert.deepEqual(decoder?.oursSeconds, triple([2, 1.5, 3]));
  assert.match(decoder?.ratios[0].what ?? '', /upstream PyTorch time ÷ ours.*\(target ≥ 2×\)/);
  assert.deepEqual(decoder?.ratios[0].ratio, triple([2, 3, 1]));
  const markdown = renderMarkdown({
    createdAt: '2026-12-06T00:00:00.000Z',
    durationSeconds: 60,
    settings: { runs: 1 },
    machine: { cpus: 2, cpuModel: 'test', memoryGiB: 8, node: 'v24', loadAverageAtStart: [1, 1, 1], loadAverageAtEnd: [1, 1, 1] },
    ...summarize([], [], [], run),
  });
  assert.ok(markdown.includes('## VQVAE decoder vs upstream'));
  assert.ok(markdown.includes('| upstream (PyTorch 1.13.0, fp32) | 3.00 / **4.00** / 4.50 |'), markdown);
  assert.equal(summarize([], [], []).decoder, null, 'no decoder run, no section');
});
