// Reads what each package's benchmark prints (or writes, for the engine) and turns repeated
// runs into min/median/max figures and same-run ratios.

import { DECODER_UPSTREAM_TARGET, FP32_TARGETS, INT8_TARGETS } from '../gpu-service/bench/targets.ts';

export interface Triple {
  min: number;
  median: number;
  max: number;
  /** How many values it summarises. */
  n: number;
}

export function triple(values: number[]): Triple {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return { min: NaN, median: NaN, max: NaN, n: 0 };
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { min: sorted[0], median, max: sorted[sorted.length - 1], n: sorted.length };
}

// ------------------------------------------------------------------ engine (JSON from --json)

/** The part of gpu-service/bench/engine.ts's per-configuration JSON that the report uses. */
export interface EngineConfig {
  model: string;
  /** Absent in results from before the int8 path: fp32. */
  precision?: string;
  mode: 'all' | 'per-scale';
  batch: number;
  threads: number;
  loadMs: number;
  runs: { textMs: number; generateMs: number; decodeMs: number; totalMs: number }[];
  peakRssBytes: number;
  /** The weights' PSS: mapped (file-backed) plus fed from memory (engine.ts). */
  weightPssBytes?: number;
  baselineGflops: number;
  /** FLOPs one run executes (the whole batch): text encoder, each scale, decoder. */
  flops?: { text: number; scales: number[]; decode: number };
}

export interface EngineFigures {
  model: string;
  precision: string;
  mode: string;
  batch: number;
  threads: number;
  secondsPerImage: Triple;
  generatorSeconds: Triple;
  decodeSeconds: Triple;
  textSeconds: Triple;
  peakRssGiB: number;
  loadSeconds: number;
  matmulProbeGflops: number;
}

export interface Ratio {
  what: string;
  /** Value of the ratio (e.g. 1.8 = 1.8× faster): min/median/max over pairs from one run. */
  ratio: Triple;
}

function engineFigures(config: EngineConfig): EngineFigures {
  return {
    model: config.model,
    precision: precisionOf(config),
    mode: config.mode,
    batch: config.batch,
    threads: config.threads,
    secondsPerImage: triple(config.runs.map((run) => run.totalMs / config.batch / 1000)),
    generatorSeconds: triple(config.runs.map((run) => run.generateMs / 1000)),
    decodeSeconds: triple(config.runs.map((run) => run.decodeMs / 1000)),
    textSeconds: triple(config.runs.map((run) => run.textMs / 1000)),
    peakRssGiB: config.peakRssBytes / 2 ** 30,
    loadSeconds: config.loadMs / 1000,
    matmulProbeGflops: config.baselineGflops,
  };
}

/** Ratios of per-image time pairing repeat i with repeat i (same bench run, same order). */
function pairedRatio(a: EngineConfig, b: EngineConfig, what: string): Ratio {
  const n = Math.min(a.runs.length, b.runs.length);
  const values = Array.from({ length: n }, (_, i) => a.runs[i].totalMs / a.batch / (b.runs[i].totalMs / b.batch));
  return { what, ratio: triple(values) };
}

const precisionOf = (c: EngineConfig) => c.precision ?? 'fp32';
/** A model at one precision: the model's name, with the precision unless fp32. */
const seriesOf = (c: EngineConfig) => (precisionOf(c) === 'fp32' ? c.model : `${c.model} · ${precisionOf(c)}`);

const isD16Fp32 = (c: EngineConfig) => c.model.includes('d16') && precisionOf(c) === 'fp32';

/**
 * Each run's time over the floor: the FLOPs it executed at the rate of the fp32 MatMul probe
 * timed in the same process (what this host's onnxruntime reaches on a large product).
 */
function floorRatio(c: EngineConfig, flops: NonNullable<EngineConfig['flops']>): Ratio {
  const total = flops.text + flops.scales.reduce((a, b) => a + b, 0) + flops.decode;
  const floorMs = (total / (c.baselineGflops * 1e9)) * 1000;
  const target = isD16Fp32(c) && c.mode === 'all' && c.batch === 1 ? ` (target ≤ ${FP32_TARGETS.overFloor}×)` : '';
  return {
    what: `${seriesOf(c)} · ${c.mode} · batch ${c.batch}: time ÷ floor (FLOPs at the MatMul probe's rate)${target}`,
    ratio: triple(c.runs.map((run) => run.totalMs / floorMs)),
  };
}

function engineRatios(configs: EngineConfig[]): Ratio[] {
  const ratios: Ratio[] = [];
  const find = (model: string, mode: string, batch: number) =>
    configs.find((c) => seriesOf(c) === model && c.mode === mode && c.batch === batch);
  for (const model of new Set(configs.map(seriesOf))) {
    for (const mode of ['all', 'per-scale']) {
      const one = find(model, mode, 1);
      if (!one) continue;
      for (const c of configs.filter((x) => seriesOf(x) === model && x.mode === mode && x.batch > 1)) {
        const target = isD16Fp32(c) && c.batch === 4 ? ` (target ≥ ${FP32_TARGETS.batch4SpeedUp.toFixed(2)}×)` : '';
        ratios.push(pairedRatio(one, c, `${model} · ${mode}: per-image speed-up of batch ${c.batch} over batch 1${target}`));
      }
    }
    for (const c of configs.filter((x) => seriesOf(x) === model && x.mode === 'per-scale')) {
      const all = find(model, 'all', c.batch);
      if (!all) continue;
      ratios.push(pairedRatio(c, all, `${model} · batch ${c.batch}: per-scale time ÷ one-run time`));
      ratios.push({
        what: `${model} · batch ${c.batch}: per-scale peak RSS ÷ one-run peak RSS`,
        ratio: triple([c.peakRssBytes / all.peakRssBytes]),
      });
    }
  }
  // fp32 only: the floor is fp32 FLOPs at the fp32 probe's rate, which says nothing of int8 products.
  for (const c of configs) if (c.flops && c.baselineGflops > 0 && precisionOf(c) === 'fp32') ratios.push(floorRatio(c, c.flops));
  for (const int8 of configs.filter((c) => precisionOf(c) === 'int8')) {
    const fp32 = find(int8.model, int8.mode, int8.batch);
    if (!fp32) continue;
    const at = `${int8.model} · ${int8.mode} · batch ${int8.batch}: int8 ÷ fp32`;
    ratios.push(pairedRatio(int8, fp32, `${at} s/image (target ≤ ${INT8_TARGETS.secondsPerImage}×)`));
    if (int8.weightPssBytes && fp32.weightPssBytes)
      ratios.push({
        what: `${at} weights in memory (target ≤ ${INT8_TARGETS.weightMemory}×)`,
        ratio: triple([int8.weightPssBytes / fp32.weightPssBytes]),
      });
    ratios.push({ what: `${at} peak RSS`, ratio: triple([int8.peakRssBytes / fp32.peakRssBytes]) });
  }
  return ratios;
}

// ------------------------------------------------------------------ server (text table)

export interface ServerRow {
  clients: number;
  offImagesPerSecond: number;
  onImagesPerSecond: number;
  meanBatch: number;
  p50OffMs: number;
  p50OnMs: number;
}

export interface ServerRun {
  model: string;
  device: string;
  rows: ServerRow[];
}

/** Parses gpu-service/bench/server.ts's table. */
export function parseServerBench(output: string): ServerRun {
  const head = /server bench: model (\S+), device (\S+),/.exec(output);
  if (!head) throw new Error(`server bench output has no header line:\n${output.slice(-1000)}`);
  const lines = output.split('\n');
  const at = lines.findIndex((line) => line.trim().startsWith('clients'));
  if (at < 0) throw new Error(`server bench output has no table:\n${output.slice(-1000)}`);
  const rows: ServerRow[] = [];
  for (const line of lines.slice(at + 1)) {
    const m = /^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+×\s+([\d.]+)\s+([\d.]+) \/ ([\d.]+)\s*$/.exec(line);
    if (!m) continue;
    rows.push({
      clients: Number(m[1]),
      offImagesPerSecond: Number(m[2]),
      onImagesPerSecond: Number(m[3]),
      meanBatch: Number(m[4]),
      p50OffMs: Number(m[5]),
      p50OnMs: Number(m[6]),
    });
  }
  if (rows.length === 0) throw new Error(`server bench table has no rows:\n${output.slice(-1000)}`);
  return { model: head[1], device: head[2], rows };
}

// ------------------------------------------------------------------ edge (text table)

export interface EdgeRow {
  name: string;
  count: number;
  rps: number;
  p50: number;
  p99: number;
}

export type EdgeRun = Record<EdgeCase, EdgeRow>;
export const EDGE_CASES = {
  bare: 'bare Worker route',
  auth: 'auth + rate limit only',
  hitPost: 'cache hit: POST',
  hitGet: 'cache hit: GET',
  miss: 'miss:',
  direct: 'direct:',
} as const;
export type EdgeCase = keyof typeof EDGE_CASES;

/** Issue 15's target for a cache hit through the API, as a ratio of the bare route from the same run. */
export const EDGE_HIT_TARGET = 0.8;

/** Parses edge/bench/edge.bench.ts's table. */
export function parseEdgeBench(output: string): EdgeRun {
  const rows: EdgeRow[] = [];
  for (const line of output.split('\n')) {
    const m = /^(\S.*?)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s*$/.exec(line);
    if (m) rows.push({ name: m[1].trim(), count: Number(m[2]), rps: Number(m[3]), p50: Number(m[4]), p99: Number(m[5]) });
  }
  const run = {} as EdgeRun;
  for (const [id, prefix] of Object.entries(EDGE_CASES) as [EdgeCase, string][]) {
    const row = rows.find((r) => r.name.startsWith(prefix));
    if (!row) throw new Error(`edge bench output has no "${prefix}" row:\n${output.slice(-1500)}`);
    run[id] = row;
  }
  return run;
}

// ------------------------------------------------------------------ VQVAE decoder vs upstream (JSON from --json)

/** gpu-service/bench/vqvae-decoder.ts --upstream --json: seconds per decode, round by round. */
export interface DecoderRun {
  side: number;
  batch: number;
  threads: number;
  /** The first is the pipeline's own configuration. */
  variants: { name: string; seconds: number[] }[];
  upstream: { version: string; seconds: number[] } | null;
}

function decoderSummary(run: DecoderRun): NonNullable<Summary['decoder']> {
  const ours = run.variants[0].seconds;
  const upstream = run.upstream?.seconds ?? [];
  return {
    side: run.side,
    batch: run.batch,
    threads: run.threads,
    upstreamVersion: run.upstream?.version ?? null,
    oursSeconds: triple(ours),
    upstreamSeconds: triple(upstream),
    ratios: run.upstream
      ? [
          {
            what: `VQVAE decoder (${run.side}² latent, batch ${run.batch}): upstream PyTorch time ÷ ours, round by round (target ≥ ${DECODER_UPSTREAM_TARGET}×)`,
            ratio: triple(upstream.map((t, r) => t / ours[r])),
          },
        ]
      : [],
  };
}

// ------------------------------------------------------------------ summary

export interface Summary {
  engine: { figures: EngineFigures[]; ratios: Ratio[] };
  server: {
    model: string;
    device: string;
    rows: {
      clients: number;
      offImagesPerSecond: Triple;
      onImagesPerSecond: Triple;
      meanBatch: Triple;
      p50OffMs: Triple;
      p50OnMs: Triple;
    }[];
    ratios: Ratio[];
  } | null;
  edge: {
    rows: { id: EdgeCase; name: string; rps: Triple; p50: Triple; p99: Triple }[];
    ratios: Ratio[];
    /** Differences of two figures from the same run, ms. */
    overheads: { what: string; ms: Triple }[];
  } | null;
  decoder: {
    side: number;
    batch: number;
    threads: number;
    upstreamVersion: string | null;
    oursSeconds: Triple;
    upstreamSeconds: Triple;
    ratios: Ratio[];
  } | null;
}

export function summarize(
  engine: EngineConfig[],
  serverRuns: ServerRun[],
  edgeRuns: EdgeRun[],
  decoder: DecoderRun | null = null,
): Summary {
  let server: Summary['server'] = null;
  if (serverRuns.length) {
    const clients = serverRuns[0].rows.map((row) => row.clients);
    const pick = (c: number) => serverRuns.flatMap((run) => run.rows.filter((row) => row.clients === c).slice(0, 1));
    server = {
      model: serverRuns[0].model,
      device: serverRuns[0].device,
      rows: clients.map((c) => ({
        clients: c,
        offImagesPerSecond: triple(pick(c).map((r) => r.offImagesPerSecond)),
        onImagesPerSecond: triple(pick(c).map((r) => r.onImagesPerSecond)),
        meanBatch: triple(pick(c).map((r) => r.meanBatch)),
        p50OffMs: triple(pick(c).map((r) => r.p50OffMs)),
        p50OnMs: triple(pick(c).map((r) => r.p50OnMs)),
      })),
      ratios: clients.map((c) => ({
        what: `${c} client${c > 1 ? 's' : ''}: images/s with micro-batching ÷ without`,
        ratio: triple(pick(c).map((r) => r.onImagesPerSecond / r.offImagesPerSecond)),
      })),
    };
  }
  let edge: Summary['edge'] = null;
  if (edgeRuns.length) {
    const of = (id: EdgeCase, f: (row: EdgeRow) => number) => triple(edgeRuns.map((run) => f(run[id])));
    const ratio = (what: string, f: (run: EdgeRun) => number): Ratio => ({ what, ratio: triple(edgeRuns.map(f)) });
    edge = {
      rows: (Object.keys(EDGE_CASES) as EdgeCase[]).map((id) => ({
        id,
        name: edgeRuns[0][id].name,
        rps: of(id, (r) => r.rps),
        p50: of(id, (r) => r.p50),
        p99: of(id, (r) => r.p99),
      })),
      ratios: [
        ratio(
          `cache hit (POST /v1/images/generations) req/s ÷ bare route req/s (target ≥ ${EDGE_HIT_TARGET}×)`,
          (r) => r.hitPost.rps / r.bare.rps,
        ),
        ratio('cache hit (GET /v1/images/{key}.png) req/s ÷ bare route req/s', (r) => r.hitGet.rps / r.bare.rps),
        ratio('cache hit (POST) p50 ÷ bare route p50', (r) => r.hitPost.p50 / r.bare.p50),
        ratio('cache hit (POST) p99 ÷ bare route p99', (r) => r.hitPost.p99 / r.bare.p99),
        ratio('miss through the edge p50 ÷ direct GPU call p50', (r) => r.miss.p50 / r.direct.p50),
      ],
      overheads: [
        { what: 'cache hit (POST) p50 − bare route p50', ms: triple(edgeRuns.map((r) => r.hitPost.p50 - r.bare.p50)) },
        { what: 'miss-path overhead of the edge at p50 (edge − direct)', ms: triple(edgeRuns.map((r) => r.miss.p50 - r.direct.p50)) },
        { what: 'miss-path overhead of the edge at p99 (edge − direct)', ms: triple(edgeRuns.map((r) => r.miss.p99 - r.direct.p99)) },
      ],
    };
  }
  return {
    engine: { figures: engine.map(engineFigures), ratios: engineRatios(engine) },
    server,
    edge,
    decoder: decoder && decoderSummary(decoder),
  };
}
