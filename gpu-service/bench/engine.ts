// Engine benchmark (not a test): seconds per image, per-stage times and
// achieved GFLOP/s, and peak RSS, for
//   * star-tiny (shipped), and
//   * a star-256-d16-SHAPED model with random weights: the real generator
//     (depth 16, C 1024, V 4096, Cvae 32, patch nums 1..16) and VQVAE (ch 160)
//     shapes; the text encoder is a small random CLIP with the real width
//     (hidden 1024) but 2 layers instead of 23, and star-tiny's 2048-id
//     tokenizer. Generated once into .cache/bench (about 1.1 GB).
// in both generator modes ('all' = one run, 'per-scale' = one run per scale)
// at batch 1, 2 and 4 on the CPU, at each of `--precisions` (default fp32). With
// fp32 and int8 both, every int8 configuration is followed by its figures as
// ratios of the fp32 one from the same bench run, against issue 15's targets:
// s/image ≤ 0.4×, and the weights' resident memory ≤ 0.35× (the file-backed
// PSS a pipeline adds, its mapped weights, plus the generator weights it feeds
// from memory; prepacked copies are not counted; whole-process peak RSS beside it).
//
// `--load-only` measures memory instead of speed: peak RSS (VmHWM) after
// loading and after one image, as a multiple of the weight files' bytes; with
// `--models d30`, a star-256-d30-SHAPED random model built the same way
// (depth 30, C 1920; about 7 GB, generated once into .cache/bench).
//
// Each configuration runs in its own child process (so its peak RSS is its
// own): load, one warm-up generation, then `--repeats` timed generations.
// Figures are min / median / max over the repeats. Every child also times an
// fp32 MatMul probe through onnxruntime with the same threads, before and
// after its runs (the faster counts: the host's peak), and stage throughput is
// printed as a ratio of that in-process baseline: the machine is shared, and
// the ratio stays comparable when neighbours are busy.
//
//   node gpu-service/bench/engine.ts [--models tiny,d16,<model dir>] [--modes all,per-scale]
//        [--batches 1,2,4] [--precisions fp32,int8] [--repeats 3] [--threads 2] [--json FILE]
//        [--prepack on|off] [--weights inputs|initializers] [--arena on|off] [--malloc tuned|default] [--attention fused,matmul]
//        (pipeline defaults and the Dockerfile's malloc settings unless given)
//   node gpu-service/bench/engine.ts --load-only --models d30 --modes all,per-scale
//        (memory only: peak RSS after load and after one image, against the weights' bytes)
//   node gpu-service/bench/engine.ts --gpu    (the CUDA run; refuses without a CUDA provider)
//   node gpu-service/bench/engine.ts --write-only --models d30-1024   (write the random model, nothing else)
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { imageSeeds } from '@star-api/contract';
import type { AttentionImpl } from '../src/engine/models/generator/blocks.ts';
import type { GeneratorConfig } from '../src/engine/models/generator/config.ts';
import type { RandomModelSpec } from '../src/engine/models/random-model.ts';
import { writeRandomModel } from '../src/engine/models/random-model.ts';
import { BUILTIN_MODELS_DIR, releasedManifest, releasedModel, TINY_MODEL_NAME } from '../src/engine/models/registry.ts';
import { readClipTextConfig } from '../src/engine/models/text-encoder/config.ts';
import { Graph } from '../src/engine/onnx/graph.ts';
import type { WeightBinding } from '../src/engine/onnx/graph-weights.ts';
import { matmul } from '../src/engine/onnx/ops.ts';
import { probeCuda, Session, tensor } from '../src/engine/onnx/runtime.ts';
import type { Device, Precision } from '../src/engine/onnx/target.ts';
import { PRECISIONS } from '../src/engine/onnx/target.ts';
import { toModelBytes } from '../src/engine/onnx/serialize.ts';
import type { GeneratorMode, LoadedModel, StarPipeline } from '../src/engine/pipeline.ts';
import { loadModel, loadPipeline } from '../src/engine/pipeline.ts';
import type { GenerateRequest } from '../src/engine/types.ts';
import { decoderFlops, generatorFlops, generatorScaleFlops, textEncoderFlops } from './flops.ts';
import { MALLOC_ENV } from './malloc.ts';
import { INT8_TARGETS } from './targets.ts';
import { triple as minMedianMax } from '../../bench/parse.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BENCH_CACHE = join(REPO, '.cache/bench');

/**
 * A released model's shapes with random weights (see the header): the real
 * generator and VQVAE, a 2-layer random CLIP text encoder with the real
 * width, and star-tiny's tokenizer.
 */
function randomSpec(released: string, seed: number): RandomModelSpec {
  const manifest = releasedManifest(releasedModel(released));
  return {
    seed,
    manifest: {
      ...manifest,
      name: `${released}-random`,
      description: `${released} shapes with random weights (bench only); 2-layer random CLIP text encoder`,
      generator: { ...manifest.generator, weights: 'var.safetensors', key: undefined },
      vqvae: { ...manifest.vqvae, weights: 'vae.safetensors' },
    },
    clip: {
      vocab_size: 2048,
      hidden_size: 1024,
      intermediate_size: 4096,
      num_hidden_layers: 2,
      num_attention_heads: 16,
      max_position_embeddings: 77,
      bos_token_id: 2046,
      eos_token_id: 2047,
      pad_token_id: 0,
    },
  };
}

/** Writes the random model into .cache/bench once; returns its directory. */
function randomModelDir(released: string, seed: number, size: string): string {
  const dir = join(BENCH_CACHE, `${released}-random`);
  if (!existsSync(join(dir, 'model.json'))) {
    console.error(`writing the ${released}-shaped random model to ${dir} (once; ~${size})…`);
    const started = performance.now();
    const spec = randomSpec(released, seed);
    writeRandomModel(dir, spec);
    cpSync(join(BUILTIN_MODELS_DIR, TINY_MODEL_NAME, 'tokenizer'), join(dir, spec.manifest.text_encoder.tokenizer), { recursive: true });
    console.error(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return dir;
}

const MODELS: Record<string, () => string> = {
  tiny: () => join(BUILTIN_MODELS_DIR, TINY_MODEL_NAME),
  d16: () => randomModelDir('star-256-d16', 1616, '1.1 GB'),
  /** For the load-memory figure (`--load-only`): ~5 GB of weights. */
  d30: () => randomModelDir('star-256-d30', 3030, '5 GB'),
  /** The GPU target (bench/gpu-check.sh): star-1024-d30 shapes, 14 scales up to 64². */
  'd30-1024': () => randomModelDir('star-1024-d30', 1024, '7 GB'),
};

const REQUEST: Omit<GenerateRequest, 'seeds'> = {
  prompt: 'a lighthouse on a cliff at sunset, oil painting',
  cfg: 4,
  top_k: 0,
  top_p: 0.8,
  more_smooth: false,
};

interface ChildSpec {
  modelDir: string;
  mode: GeneratorMode;
  batch: number;
  repeats: number;
  threads: number;
  device: Device;
  precision: Precision;
  prepackWeights?: boolean;
  weightBinding?: WeightBinding;
  memoryArena?: boolean;
  attention?: AttentionImpl;
  /** 'tuned': the child runs with the Dockerfile's glibc malloc settings (malloc.ts); 'default': glibc's own. */
  malloc: 'tuned' | 'default';
  /** Only build/load the graphs (fills the cache so measured children do not build). */
  prepareOnly?: boolean;
  /** Measure memory only: peak RSS after load and after one generation, against the weights' bytes. */
  loadOnly?: boolean;
}

interface ChildResult {
  model: string;
  precision: Precision;
  mode: GeneratorMode;
  batch: number;
  threads: number;
  loadMs: number;
  /** The generator runs of one generation (one in 'all' mode; small scales share a run in 'per-scale'). */
  ranges: { first: number; last: number }[];
  /** Per repeat: text, each generator run (per-scale mode; empty in 'all'), generate, decode, total (ms). */
  runs: { textMs: number; rangeMs: number[]; generateMs: number; decodeMs: number; totalMs: number }[];
  peakRssBytes: number;
  /** Largest proportional set size seen after a run: shared mappings (one weight file mapped by several sessions) count once. */
  peakPssBytes: number;
  /**
   * The weights' PSS: file-backed PSS the pipeline added (load and generations: the weights it
   * maps and touched, each page once) plus the generator weights it feeds from memory.
   */
  weightPssBytes: number;
  baselineGflops: number;
  /** This engine's work per stage (`scales`: the generator's, per scale), and the generator's as upstream would execute it (flops.ts). */
  flops: { text: number; scales: number[]; decode: number; upstreamGenerate: number };
  /** With `loadOnly`. */
  memory?: LoadMemory;
  /** The options that differ from the pipeline's defaults, for the report. */
  options?: string;
}

/** Peak RSS (VmHWM) of loading a model, and of its first generation, against the bytes of its weight files. */
interface LoadMemory {
  weightBytes: number;
  afterLoad: { peakRssBytes: number; pssBytes: number };
  afterFirstImage: { peakRssBytes: number; pssBytes: number; ms: number };
}

// ---------------------------------------------------------------- child

async function child(spec: ChildSpec): Promise<ChildResult> {
  const filePssBefore = filePssBytes();
  const loadStart = performance.now();
  const pipeline = (await loadPipeline(spec.modelDir, {
    device: spec.device,
    precision: spec.precision,
    threads: spec.threads,
    mode: spec.mode,
    prepackWeights: spec.prepackWeights,
    weightBinding: spec.weightBinding,
    memoryArena: spec.memoryArena,
    attention: spec.attention,
    prepareBatchSizes: [spec.batch],
  })) as StarPipeline;
  const loadMs = performance.now() - loadStart;
  const model = pipeline.model;
  const cfg: GeneratorConfig = model.generatorConfig;
  const text = readClipTextConfig(join(model.dir, model.manifest.text_encoder.dir, 'config.json'));
  const flops = {
    // One new text per run (its n images share the prompt; "" is cached after the warm-up).
    text: textEncoderFlops(text, 1),
    scales: cfg.patchNums.map((_, si) => generatorScaleFlops(cfg, si, spec.batch, 'ours')),
    decode: decoderFlops(model.vqvaeConfig, cfg.patchNums[cfg.patchNums.length - 1], spec.batch),
    upstreamGenerate: generatorFlops(cfg, spec.batch, 'upstream'),
  };
  const runs: ChildResult['runs'] = [];
  const ranges = pipeline.scaleRanges();
  let peakPss = pssBytes();
  const weightPssNow = () => filePssBytes() - filePssBefore + pipeline.fedWeightBytes;
  let weightPss = weightPssNow();
  // what every kind of child reports; the MatMul probe only runs in a timed child
  const result = (): ChildResult => ({
    model: model.manifest.name,
    precision: spec.precision,
    mode: spec.mode,
    batch: spec.batch,
    threads: spec.threads,
    loadMs,
    ranges,
    runs,
    flops,
    peakRssBytes: peakRssBytes(),
    peakPssBytes: peakPss,
    weightPssBytes: weightPss,
    baselineGflops: 0,
  });
  if (spec.loadOnly && !spec.prepareOnly) {
    const afterLoad = { peakRssBytes: peakRssBytes(), pssBytes: peakPss };
    const started = performance.now();
    await pipeline.generate({ ...REQUEST, seeds: imageSeeds(1000, spec.batch) });
    const afterFirstImage = { peakRssBytes: peakRssBytes(), pssBytes: pssBytes(), ms: performance.now() - started };
    weightPss = Math.max(weightPss, weightPssNow());
    await pipeline.dispose();
    const memory: LoadMemory = { weightBytes: weightFileBytes(model), afterLoad, afterFirstImage };
    return { ...result(), peakPssBytes: Math.max(peakPss, afterFirstImage.pssBytes), memory };
  }
  if (!spec.prepareOnly) {
    const baselineBefore = await matmulBaseline(spec);
    for (let r = 0; r <= spec.repeats; r++) {
      const marks: number[] = [];
      // A new prompt every run: the text encoder caches encodings of texts it has seen.
      const result = await pipeline.generate(
        { ...REQUEST, prompt: `${REQUEST.prompt}, take ${r}`, seeds: imageSeeds(1000 + r, spec.batch) },
        { onProgress: () => marks.push(performance.now()) },
      );
      if (r === 0) continue; // warm-up
      // Progress marks come after each scale; a run's scales report together at its end.
      const generateStart = marks[marks.length - 1] - result.timings.generateMs;
      const ends = ranges.map((r) => marks[r.last]);
      const rangeMs = spec.mode === 'per-scale' ? ends.map((end, i) => end - (i === 0 ? generateStart : ends[i - 1])) : [];
      runs.push({ ...result.timings, rangeMs });
      peakPss = Math.max(peakPss, pssBytes());
      weightPss = Math.max(weightPss, weightPssNow());
    }
    const baselineAfter = await matmulBaseline(spec);
    await pipeline.dispose();
    return { ...result(), baselineGflops: Math.max(baselineBefore, baselineAfter) };
  }
  await pipeline.dispose();
  return result();
}

/** Bytes of the weight files a pipeline loads: generator, VQVAE, text encoder. */
function weightFileBytes(model: LoadedModel): number {
  const files = [...Object.keys(model.fingerprint), join(model.dir, model.manifest.text_encoder.dir, 'model.safetensors')];
  return files.reduce((sum, f) => sum + statSync(f).size, 0);
}

/** This process's peak resident set size so far: VmHWM (Linux), else getrusage's maxRSS. */
function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** This process's proportional set size (Linux; 0 elsewhere). */
const pssBytes = () => smapsRollupBytes('Pss');
/** This process's file-backed proportional set size (Linux; 0 elsewhere): mapped files, each page counted once. */
const filePssBytes = () => smapsRollupBytes('Pss_File');

function smapsRollupBytes(field: 'Pss' | 'Pss_File'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * This host's fp32 peak through onnxruntime, for the floor: GFLOP/s of the fastest of 20 runs
 * of a 1024×1024 · 1024×4096 MatMul (d16's MLP at 1024 rows) whose right operand is a constant
 * (packed at load, as onnxruntime does with weights). The fastest, not the median: a floor from a run slowed by a
 * neighbour would flatter every ratio against it.
 */
async function matmulBaseline(spec: ChildSpec): Promise<number> {
  const [M, K, N] = [1024, 1024, 4096];
  const g = new Graph('matmul_probe');
  const a = g.input('a', 'float32', [M, K]);
  const b = g.initializer('b', { dtype: 'float32', shape: [K, N], bytes: () => new Uint8Array(new Float32Array(K * N).fill(0.25).buffer) });
  g.output(matmul(a, b), 'c');
  const session = await Session.create(toModelBytes(g), { device: spec.device, threads: spec.threads });
  const feeds = { a: tensor('float32', new Float32Array(M * K).fill(0.5), [M, K]) };
  let fastest = Infinity;
  for (let i = 0; i < 21; i++) {
    const t = performance.now();
    await session.run(feeds);
    if (i > 0) fastest = Math.min(fastest, performance.now() - t);
  }
  await session.dispose();
  return (2 * M * K * N) / (fastest / 1000) / 1e9;
}

// ---------------------------------------------------------------- parent

function runChild(spec: ChildSpec): Promise<ChildResult> {
  return new Promise((resolveRun, reject) => {
    const env = { ...process.env };
    for (const [name, value] of Object.entries(MALLOC_ENV)) {
      if (spec.malloc === 'tuned') env[name] = value;
      else delete env[name];
    }
    const proc = spawn(process.execPath, [import.meta.filename, '--child', JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${spec.mode} B=${spec.batch} exited with ${code}`));
      resolveRun(JSON.parse(out.trim().split('\n').at(-1) ?? '') as ChildResult); // the child's last line is its result
    });
  });
}

const median = (xs: number[]): number => minMedianMax(xs).median;

const fmt = (ms: number) => (ms / 1000).toFixed(ms < 1000 ? 3 : 2);
const triple = (xs: number[]) => {
  const { min, median, max } = minMedianMax(xs);
  return `${fmt(min)} / ${fmt(median)} / ${fmt(max)}`;
};
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

function optionLabel(spec: ChildSpec): string {
  const onOff = (b: boolean) => (b ? 'on' : 'off');
  return [
    spec.prepackWeights === undefined ? '' : `prepack ${onOff(spec.prepackWeights)}`,
    spec.weightBinding === undefined ? '' : `weights ${spec.weightBinding}`,
    spec.memoryArena === undefined ? '' : `arena ${onOff(spec.memoryArena)}`,
    spec.attention === undefined ? '' : `attention ${spec.attention}`,
    `malloc ${spec.malloc}`,
  ]
    .filter(Boolean)
    .join(' · ');
}

function memoryReport(r: ChildResult, firstLoadPeakRss: number): string {
  const m = r.memory;
  if (!m) throw new Error(`bench: ${r.model} ran without --load-only, so it has no memory figures`);
  const ratio = (bytes: number) => `${(bytes / m.weightBytes).toFixed(2)}× weights`;
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
  return [
    `${r.model} · ${r.precision} · load memory · mode ${r.mode} · batch ${r.batch} · ${r.threads} threads · ${r.options} · weights ${gb(m.weightBytes)} (${gib(m.weightBytes)})`,
    `  load (graphs cached)  peak RSS ${gib(m.afterLoad.peakRssBytes)} = ${ratio(m.afterLoad.peakRssBytes)}   (PSS ${gib(m.afterLoad.pssBytes)})   ${fmt(r.loadMs)} s`,
    `  + first image         peak RSS ${gib(m.afterFirstImage.peakRssBytes)} = ${ratio(m.afterFirstImage.peakRssBytes)}   (PSS ${gib(m.afterFirstImage.pssBytes)})   ${fmt(m.afterFirstImage.ms)} s`,
    `  load in the child before (builds the graph cache when cold)  peak RSS ${gib(firstLoadPeakRss)} = ${ratio(firstLoadPeakRss)}`,
  ].join('\n');
}

function report(r: ChildResult): string {
  const lines: string[] = [];
  const perImage = r.runs.map((x) => x.totalMs / r.batch);
  const gf = (flops: number, ms: number) => flops / (ms / 1000) / 1e9;
  const rate = (flops: number, ms: number) =>
    `${gf(flops, ms).toFixed(1).padStart(6)} GFLOP/s (${((100 * gf(flops, ms)) / r.baselineGflops).toFixed(0).padStart(3)}% of probe)`;
  const med = (pick: (x: ChildResult['runs'][number]) => number) => median(r.runs.map(pick));
  const generateFlops = r.flops.scales.reduce((a, b) => a + b, 0);
  lines.push(`${r.model} · ${r.precision} · mode ${r.mode} · batch ${r.batch} · ${r.threads} threads${r.options ? ` · ${r.options}` : ''}`);
  const perImageGflop = (generate: number) => ((r.flops.text + generate + r.flops.decode) / r.batch / 1e9).toFixed(1);
  lines.push(
    `  work/image     ${perImageGflop(generateFlops)} GFLOP (${perImageGflop(r.flops.upstreamGenerate)} with upstream's generator: text K/V at every scale, cross-attention on both CFG rows)`,
  );
  lines.push(
    `  s/image (min/median/max)  ${triple(perImage)}      peak RSS ${gib(r.peakRssBytes)} (PSS ${gib(r.peakPssBytes)}; weights ${gib(r.weightPssBytes)})      load ${fmt(r.loadMs)} s      MatMul probe ${r.baselineGflops.toFixed(1)} GFLOP/s`,
  );
  lines.push(
    `  text encoder   ${triple(r.runs.map((x) => x.textMs))} s   ${rate(
      r.flops.text,
      med((x) => x.textMs),
    )}`,
  );
  if (r.mode === 'per-scale') {
    r.ranges.forEach(({ first, last }, i) => {
      const f = r.flops.scales.slice(first, last + 1).reduce((a, b) => a + b, 0);
      const label = first === last ? `scale ${first}` : `scales ${first}-${last}`;
      lines.push(
        `  ${label.padEnd(14)} ${triple(r.runs.map((x) => x.rangeMs[i]))} s   ${rate(
          f,
          med((x) => x.rangeMs[i]),
        )}`,
      );
    });
  }
  lines.push(
    `  generator      ${triple(r.runs.map((x) => x.generateMs))} s   ${rate(
      generateFlops,
      med((x) => x.generateMs),
    )}`,
  );
  lines.push(
    `  decode         ${triple(r.runs.map((x) => x.decodeMs))} s   ${rate(
      r.flops.decode,
      med((x) => x.decodeMs),
    )}`,
  );
  lines.push(
    `  total          ${triple(r.runs.map((x) => x.totalMs))} s   ${rate(
      r.flops.text + generateFlops + r.flops.decode,
      med((x) => x.totalMs),
    )}`,
  );
  return lines.join('\n');
}

/** An int8 configuration's figures as ratios of the fp32 one (same model, mode and batch, same bench run). */
function precisionReport(int8: ChildResult, fp32: ChildResult): string {
  const perImage = (r: ChildResult) => median(r.runs.map((x) => x.totalMs / r.batch));
  const verdict = (ratio: number, target: number) => `${ratio.toFixed(2)}× (target ≤ ${target}×: ${ratio <= target ? 'met' : 'not met'})`;
  const memory = `weights in memory ${verdict(int8.weightPssBytes / fp32.weightPssBytes, INT8_TARGETS.weightMemory)}   peak RSS ${(int8.peakRssBytes / fp32.peakRssBytes).toFixed(2)}×`;
  if (!int8.runs.length || !fp32.runs.length) return `  int8 ÷ fp32    ${memory}`; // --load-only: memory only
  return [
    `  int8 ÷ fp32    s/image (median) ${verdict(perImage(int8) / perImage(fp32), INT8_TARGETS.secondsPerImage)}`,
    `                 ${memory}`,
  ].join('\n');
}

async function parent(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'tiny,d16' },
      modes: { type: 'string', default: 'all,per-scale' },
      batches: { type: 'string', default: '1,2,4' },
      precisions: { type: 'string', default: 'fp32' },
      repeats: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      json: { type: 'string' },
      prepack: { type: 'string' },
      weights: { type: 'string' },
      arena: { type: 'string' },
      attention: { type: 'string' },
      malloc: { type: 'string', default: 'tuned' },
      'load-only': { type: 'boolean', default: false },
      'write-only': { type: 'boolean', default: false },
      gpu: { type: 'boolean', default: false },
    },
  });
  if (values['write-only']) {
    // only write the random models (the device check does it while other steps run)
    for (const name of values.models.split(',')) MODELS[name]?.();
    return;
  }
  const device: Device = values.gpu ? 'cuda' : 'cpu';
  if (values.gpu) await assertCuda();
  const results: ChildResult[] = [];
  const threads = Number(values.threads);
  const precisions = values.precisions.split(',').map((p) => {
    const known = PRECISIONS.find((q) => q === p);
    if (!known) throw new Error(`unknown precision ${p}; use ${PRECISIONS.join(', ')}`);
    return known;
  });
  // Each attention implementation in its own children, one after the other (blocks.ts's AttentionImpl).
  const attentions = values.attention
    ? values.attention.split(',').map((a) => {
        if (a !== 'fused' && a !== 'matmul') throw new Error(`unknown attention ${a}; use fused, matmul`);
        return a;
      })
    : [undefined];
  for (const name of values.models.split(',')) {
    const dirOf = MODELS[name];
    if (!dirOf && !existsSync(join(resolve(name), 'model.json')))
      throw new Error(`unknown bench model ${name}; use ${Object.keys(MODELS).join(', ')} or a model directory`);
    const modelDir = dirOf ? dirOf() : resolve(name);
    const loaded = loadModel(modelDir);
    console.log(
      `\n=== ${loaded.manifest.name}: ${loaded.manifest.resolution}², depth ${loaded.generatorConfig.depth}, patch nums ${loaded.generatorConfig.patchNums.join(',')}, ${device} ===\n`,
    );
    for (const mode of values.modes.split(',') as GeneratorMode[]) {
      for (const batch of values.batches.split(',').map(Number)) {
        for (const attention of attentions) {
          const byPrecision = new Map<Precision, ChildResult>();
          for (const precision of precisions) {
            const spec: ChildSpec = {
              modelDir,
              mode,
              batch,
              repeats: Number(values.repeats),
              threads,
              device,
              precision,
              loadOnly: values['load-only'],
              malloc: values.malloc === 'default' ? 'default' : 'tuned',
              ...(values.prepack ? { prepackWeights: values.prepack !== 'off' } : {}),
              ...(values.weights ? { weightBinding: weightBinding(values.weights) } : {}),
              ...(values.arena ? { memoryArena: values.arena !== 'off' } : {}),
              ...(attention ? { attention } : {}),
            };
            const prepared = await runChild({ ...spec, prepareOnly: true }); // build graphs outside the measured process
            const result = { ...(await runChild(spec)), options: optionLabel(spec) };
            results.push(result);
            byPrecision.set(precision, result);
            console.log(result.memory ? memoryReport(result, prepared.peakRssBytes) : report(result));
            const fp32 = byPrecision.get('fp32');
            if (precision === 'int8' && fp32) console.log(precisionReport(result, fp32));
            console.log('');
          }
        }
      }
    }
  }
  if (values.json) {
    mkdirSync(resolve(values.json, '..'), { recursive: true });
    writeFileSync(values.json, JSON.stringify(results, null, 2));
  }
}

function weightBinding(name: string): WeightBinding {
  if (name !== 'inputs' && name !== 'initializers') throw new Error(`unknown --weights ${name}; use inputs, initializers`);
  return name;
}

/** `--gpu` without a working CUDA execution provider stops here, before any work. */
async function assertCuda(): Promise<void> {
  try {
    await probeCuda();
  } catch (err) {
    console.error(
      `bench:gpu needs a working CUDA execution provider and found none:\n  ${(err as Error).message.split('\n')[0]}\n` +
        'Run it where onnxruntime-node was installed with ONNXRUNTIME_NODE_INSTALL=cuda12 on an NVIDIA GPU with CUDA 12 and cuDNN 9 (the gpu-service Docker image).',
    );
    process.exit(1);
  }
}

if (process.argv[2] === '--child') {
  const result = await child(JSON.parse(process.argv[3]) as ChildSpec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await parent();
}
