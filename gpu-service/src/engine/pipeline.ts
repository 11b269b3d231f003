// The engine as a product: a model directory in, a Pipeline (types.ts) out.
//
//   requests ──▶ one batch of B = Σ |seeds| images (request r owns rows [o_r, o_r + |seeds_r|))
//     text:      tokenizer + CLIP once for the 2B CFG rows (prompt per image, then negative or "")
//     noise:     one seeded stream per image (random.ts), drawn scale by scale
//     generator: mode 'all'       one session.run over every scale
//                mode 'per-scale' one run per scale (the default); KV cache, text K/V, f_hat and
//                                 the next input flow from one run into the next; progress
//                                 (and optional previews) after every run, cancellation
//                                 between runs. On CUDA the carried state crosses through
//                                 the host, so runs end only while it is small
//                                 (CUDA_CARRIED_BYTES_PER_IMAGE); the later scales run as one.
//     decoder:   f_hat → uint8 RGB
//
// Graphs are built once per (model, precision, batch size, scale range,
// cross-attention mode, more_smooth) and cached on disk (onnx/cache.ts);
// sessions are created on first use and kept. The generator graph has a
// static batch, so each batch size that occurs gets its own sessions (see
// `maxBatchSessions`). Batches run one at a time.
//
// Cancellation: an aborted request's promise rejects with its signal's reason
// at the next scale boundary; its rows keep being computed (the graphs have a
// static batch) and are dropped. When every request of a batch is aborted the
// batch stops.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { buildGeneratorGraph, carriedFeeds, names as generatorNames } from './models/generator/generator.ts';
import { type AttentionImpl, type CrossAttnMode, DEFAULT_CROSS_ATTN } from './models/generator/blocks.ts';
import type { GeneratorConfig } from './models/generator/config.ts';
import { fromUpstreamArgs, samplerFromIdx, scaleCount } from './models/generator/config.ts';
import { vqvaeQuantizer } from './models/generator/quantizer.ts';
import { createSamplerPath, samplerNoisePlan } from './models/generator/sampler-head.ts';
import { prefixSumFor } from './models/generator/sampling.ts';
import type { ModelManifest } from './models/registry.ts';
import { readManifest, resolveModelDir } from './models/registry.ts';
import { TextEncoder } from './models/text-encoder/text-encoder.ts';
import type { VqvaeConfig } from './models/vqvae/config.ts';
import { downsampleFactor, fromUpstream } from './models/vqvae/config.ts';
import { VqvaeDecoder } from './models/vqvae/decoder-session.ts';
import { cachedModel } from './onnx/cache.ts';
import { type WeightBinding, WeightFeeder } from './onnx/graph-weights.ts';
import type { RuntimeTensor, Transfers } from './onnx/runtime.ts';
import type { Device, Precision } from './onnx/target.ts';
import { assertRunsOn, floatPrecision } from './onnx/target.ts';
import { Session, tensor } from './onnx/runtime.ts';
import { generatorMemory, planBatches } from './memory-plan.ts';
import type { NoiseInput, NoisePlanConfig, NoiseRow } from './random.ts';
import { BatchNoise, noisePlan } from './random.ts';
import type {
  BatchItem,
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  ModelInfo,
  Pipeline,
  ProgressEvent,
  RgbImage,
  StageTimings,
} from './types.ts';
import { openWeights } from './weights/open.ts';
import type { TensorStore } from './weights/tensors.ts';

export type GeneratorMode = 'all' | 'per-scale';

export interface LoadPipelineOptions {
  device: Device;
  /** Where to look for `modelNameOrDir` when it is a name (see registry.resolveModelDir). */
  modelDir?: string;
  /** onnxruntime intra-op threads (CPU); onnxruntime's default when absent. */
  threads?: number;
  /** How cross-attention rows are routed (STAR-SPEC §6.1); default: the model's `generator.cross_attn`. */
  crossAttn?: CrossAttnMode;
  /**
   * How the generator computes attention: 'fused' (onnxruntime's
   * MultiHeadAttention contrib op) or 'matmul' (MatMul, Softmax, MatMul: the
   * same tokens, generator.test.ts). Default 'matmul' on CPU (0.88× the
   * generator time of 'fused' at d16 shapes, batch 1 and 4: engine README),
   * 'fused' on CUDA (its kernel accumulates fp16 scores in fp32).
   */
  attention?: AttentionImpl;
  /** Default 'per-scale' (on CUDA within `carriedBytesPerImage`). */
  mode?: GeneratorMode;
  /**
   * Per-scale mode: the most KV-cache bytes per image that may cross from one
   * run to the next. Default CUDA_CARRIED_BYTES_PER_IMAGE on CUDA (crossing
   * is a copy through the host there), unlimited on CPU.
   */
  carriedBytesPerImage?: number;
  /** Default: fp16 on CUDA, fp32 on CPU; int8 (CPU only) quantizes the generator's linear layers (README, "int8"). */
  precision?: Precision;
  /**
   * In per-scale mode, scales with fewer tokens than this share the next
   * scale's run (see scaleRanges): fewer sessions and session.run calls, at
   * the price of fewer progress events. Default 0: every scale its own run.
   */
  perScaleMinTokens?: number;
  /** Largest latent side decoded for previews (each costs (side/P)² of a full decode). Default 8. */
  previewLatentSide?: number;
  /** Generator session sets kept for different batch sizes (least recently used ones are released). Default 4. */
  maxBatchSessions?: number;
  /**
   * Let onnxruntime copy the generator's weights into its GEMM layout at load
   * (d16 'all' mode on 2 cores: ~8% faster), at the price of holding the
   * weights twice while the session loads (onnxruntime maps the originals
   * and unmaps them only when the session is ready: peak RSS 2× the weights)
   * and once per session. Default off: the weights stay memory-mapped from
   * the graph cache, loaded once and shared by every session. Except int8 in
   * 'all' mode, its one session: its packed int8 copy replaces the mapped one
   * at the same peak RSS, and its products run ~17% faster (README, "int8").
   */
  prepackWeights?: boolean;
  /**
   * How the generator's weights reach its sessions. 'initializers': in the
   * graphs, memory-mapped by each session from the graph cache's pool.
   * 'inputs': one in-memory copy, read once from the weight file as stored
   * and fed to every run of every session (onnx/graph-weights.ts,
   * WeightFeeder); never prepacked. Default 'inputs' for CPU per-scale mode at
   * fp32 or fp16: through their own mappings its sessions ran the d16
   * generator 1.3–1.4× slower (engine README, "Generation"). 'initializers'
   * otherwise: CUDA keeps weights on the device, 'all' mode has one session and
   * ran as fast either way, int8 weights are initializers only (a quarter the
   * bytes; fed, they measured no faster).
   */
  weightBinding?: WeightBinding;
  /**
   * onnxruntime's CPU memory arena for the text encoder, generator ('all'
   * mode) and decoder sessions. Default off on CPU: each run's working memory goes back to the
   * system when it ends, so the decoder runs in the memory the generator
   * released and the peak is one stage's, not the sum of every session's
   * high-water marks (d16: −0.3 GiB, same speed). On for CUDA. Per-scale
   * generator sessions never use it.
   */
  memoryArena?: boolean;
  /**
   * Batch sizes whose generator sessions are opened at load (each batch size
   * has its own sessions). Default: `batchSizes`, or [1].
   */
  prepareBatchSizes?: number[];
  /**
   * Generator batch sizes, ascending: a batch of B images runs in the
   * smallest one ≥ B, padded with throwaway rows (rows never change each
   * other's images); a batch above the largest is refused. Default: with
   * `gpuFreeBytes`, the memory plan's (memory-plan.ts); otherwise every size,
   * each with its own sessions, opened on first use.
   */
  batchSizes?: number[];
  /** Free GPU memory at start (nvidia-smi): on CUDA the memory plan sizes batches by it. */
  gpuFreeBytes?: number;
  /** Largest batch (images) the caller will send; a memory plan that cannot fit it fails the load. Default 1. */
  maxBatch?: number;
  /** Run one small generation at load so the first request is fast. Default false. */
  warmup?: boolean;
  /** Graph cache directory (onnx/cache.ts default when absent). */
  cacheDir?: string;
}

interface ResolvedOptions {
  device: Device;
  threads?: number;
  crossAttn: CrossAttnMode;
  attention: AttentionImpl;
  mode: GeneratorMode;
  precision: Precision;
  previewLatentSide: number;
  perScaleMinTokens: number;
  carriedBytesPerImage: number;
  maxBatchSessions: number;
  prepackWeights: boolean;
  weightBinding: WeightBinding;
  memoryArena: boolean;
  batchSizes?: number[];
  cacheDir?: string;
}

/** The parts of a model directory a pipeline is built from. */
export interface LoadedModel {
  dir: string;
  manifest: ModelManifest;
  generatorConfig: GeneratorConfig;
  vqvaeConfig: VqvaeConfig;
  generatorWeights: TensorStore;
  vqvaeWeights: TensorStore;
  /** size:mtime of each weight file: part of every graph cache key. */
  fingerprint: Record<string, string>;
}

/** Reads model.json and opens the weights lazily; checks the pieces fit together. */
export function loadModel(modelNameOrDir: string, modelDir?: string): LoadedModel {
  const dir = resolveModelDir(modelNameOrDir, modelDir);
  const manifest = readManifest(dir);
  const generatorConfig = fromUpstreamArgs(manifest.generator.build_vae_var_args, { sampleVersion: manifest.generator.sample_version });
  const vqvaeConfig = fromUpstream(manifest.vqvae.args);
  const problems: string[] = [];
  if (generatorConfig.vocabSize !== vqvaeConfig.vocab)
    problems.push(`generator V ${generatorConfig.vocabSize} ≠ VQVAE vocab ${vqvaeConfig.vocab}`);
  if (generatorConfig.cvae !== vqvaeConfig.cvae)
    problems.push(`generator Cvae ${generatorConfig.cvae} ≠ VQVAE z_channels ${vqvaeConfig.cvae}`);
  const side = generatorConfig.patchNums[generatorConfig.patchNums.length - 1] * downsampleFactor(vqvaeConfig);
  if (side !== manifest.resolution)
    problems.push(
      `resolution ${manifest.resolution} ≠ last patch ${side / downsampleFactor(vqvaeConfig)} × ${downsampleFactor(vqvaeConfig)}`,
    );
  if (problems.length) throw new Error(`${join(dir, 'model.json')}: ${problems.join('; ')}`);
  const generatorPath = join(dir, manifest.generator.weights);
  const vqvaePath = join(dir, manifest.vqvae.weights);
  const fingerprint: Record<string, string> = {};
  for (const path of [generatorPath, vqvaePath]) {
    const s = statSync(path, { throwIfNoEntry: false });
    if (!s)
      throw new Error(
        `${dir}: weight file ${path} is missing${manifest.name.startsWith('star-') ? ` (run \`npx star fetch-model ${manifest.name}\`)` : ''}`,
      );
    fingerprint[path] = `${s.size}:${s.mtimeMs}`;
  }
  return {
    dir,
    manifest,
    generatorConfig,
    vqvaeConfig,
    fingerprint,
    generatorWeights: openWeights(generatorPath, { key: manifest.generator.key }),
    vqvaeWeights: openWeights(vqvaePath),
  };
}

export async function loadPipeline(modelNameOrDir: string, options: LoadPipelineOptions): Promise<Pipeline> {
  const model = loadModel(modelNameOrDir, options.modelDir);
  const cuda = options.device === 'cuda';
  const mode = options.mode ?? 'per-scale';
  const precision = options.precision ?? (cuda ? 'fp16' : 'fp32');
  assertRunsOn(precision, options.device);
  if (options.weightBinding === 'inputs' && precision === 'int8')
    throw new Error("weightBinding 'inputs' takes fp32 or fp16 weights: int8 weights enter the generator as initializers only");
  let batchSizes = options.batchSizes;
  if (!batchSizes && cuda && options.gpuFreeBytes !== undefined) {
    const maxBatch = options.maxBatch ?? 1;
    const plan = planBatches(generatorMemory(model.generatorConfig, model.vqvaeConfig, precision), options.gpuFreeBytes, maxBatch);
    if (plan.maxBatch < maxBatch)
      throw new Error(`${model.manifest.name}: ${plan.summary}; lower the batch size (MAX_BATCH) or use a GPU with more memory`);
    batchSizes = plan.batchSizes;
  }
  const resolved: ResolvedOptions = {
    device: options.device,
    threads: options.threads,
    crossAttn: options.crossAttn ?? model.manifest.generator.cross_attn ?? DEFAULT_CROSS_ATTN,
    attention: options.attention ?? (cuda ? 'fused' : 'matmul'),
    mode,
    precision,
    previewLatentSide: options.previewLatentSide ?? 8,
    perScaleMinTokens: options.perScaleMinTokens ?? 0,
    carriedBytesPerImage: options.carriedBytesPerImage ?? (cuda ? CUDA_CARRIED_BYTES_PER_IMAGE : Infinity),
    maxBatchSessions: options.maxBatchSessions ?? batchSizes?.length ?? 4,
    prepackWeights: options.prepackWeights ?? (precision === 'int8' && mode === 'all'),
    weightBinding: options.weightBinding ?? (!cuda && mode === 'per-scale' && precision !== 'int8' ? 'inputs' : 'initializers'),
    memoryArena: options.memoryArena ?? cuda,
    batchSizes: batchSizes && [...batchSizes].sort((a, b) => a - b),
    cacheDir: options.cacheDir,
  };
  const textEncoder = await TextEncoder.load({
    textEncoderDir: join(model.dir, model.manifest.text_encoder.dir),
    tokenizerDir: join(model.dir, model.manifest.text_encoder.tokenizer),
    device: options.device,
    // fp32 whatever the generator runs at: upstream encodes text outside autocast (STAR-SPEC §2.2)
    precision: 'fp32',
    threads: options.threads,
    memoryArena: resolved.memoryArena,
    cacheDir: options.cacheDir,
  });
  if (textEncoder.config.hiddenSize !== model.generatorConfig.textDim) {
    await textEncoder.dispose();
    throw new Error(
      `${model.dir}: the text encoder is ${textEncoder.config.hiddenSize} wide but the generator's in_dim_cross is ${model.generatorConfig.textDim}`,
    );
  }
  const pipeline = new StarPipeline(model, resolved, textEncoder);
  try {
    for (const batch of options.prepareBatchSizes ?? resolved.batchSizes ?? [1]) await pipeline.prepare(batch, false);
    if (options.warmup) await pipeline.generate({ prompt: 'warm up', seeds: [0], cfg: 1, top_k: 0, top_p: 0, more_smooth: false });
  } catch (err) {
    await pipeline.dispose();
    throw err;
  }
  return pipeline;
}

/** Generator sessions for one batch size: one per scale range, in order. */
interface GeneratorSessions {
  batch: number;
  moreSmooth: boolean;
  ranges: GeneratorRun[];
}

/** One scale range's session. */
interface GeneratorRun {
  first: number;
  last: number;
  session: Session;
  /** The session's weight inputs (weightBinding 'inputs'), fed to every run. */
  weights: Record<string, RuntimeTensor>;
  /**
   * The first run's outputs, which every later run writes its outputs into, so
   * onnxruntime allocates none of its own (fresh memory costs a page fault per
   * 4 KiB; the binding still hands back a copy, which runtime.ts drops). Safe
   * because a batch's runs finish before the next batch starts.
   */
  outputs?: Record<string, RuntimeTensor>;
}

interface LiveItem {
  index: number;
  request: GenerateRequest;
  options: GenerateOptions;
  rows: number[];
  settle: PromiseWithResolvers<GenerateResult>;
  done: boolean;
}

export class StarPipeline implements Pipeline {
  readonly info: ModelInfo;
  readonly model: LoadedModel;
  readonly options: ResolvedOptions;
  private readonly textEncoder: TextEncoder;
  private readonly generators = new Map<string, Promise<GeneratorSessions>>();
  /** The generator's weights for weightBinding 'inputs': one copy for every session of every batch size. */
  private readonly weightFeeder: WeightFeeder | null;
  private decoder: Promise<VqvaeDecoder> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(model: LoadedModel, options: ResolvedOptions, textEncoder: TextEncoder) {
    this.model = model;
    this.options = options;
    this.textEncoder = textEncoder;
    this.weightFeeder = options.weightBinding === 'inputs' ? new WeightFeeder(model.generatorWeights) : null;
    this.info = { name: model.manifest.name, resolution: model.manifest.resolution, patchNums: [...model.generatorConfig.patchNums] };
  }

  /** Builds (or loads from the cache) and opens the sessions for batch size `batch`. */
  async prepare(batch: number, moreSmooth: boolean): Promise<void> {
    await Promise.all([this.generatorSessions(batch, moreSmooth), this.decoderSession()]);
  }

  generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult> {
    return this.generateBatch([{ request, options }])[0];
  }

  generateBatch(items: BatchItem[]): Promise<GenerateResult>[] {
    const live: LiveItem[] = [];
    let rowCount = 0;
    const settles = items.map((item, index) => {
      const settle = Promise.withResolvers<GenerateResult>();
      const problem = this.disposed ? 'the pipeline is disposed' : validateRequest(item.request);
      if (problem) {
        settle.reject(new Error(problem));
      } else if (item.options?.signal?.aborted) {
        settle.reject(item.options.signal.reason);
      } else {
        const rows = item.request.seeds.map((_, i) => rowCount + i);
        rowCount += rows.length;
        live.push({ index, request: item.request, options: item.options ?? {}, rows, settle, done: false });
      }
      return settle.promise;
    });
    if (live.length) {
      const run = this.queue.then(() => this.runBatch(live));
      this.queue = run.catch(() => undefined);
      run.catch((err: unknown) => {
        for (const item of live) if (!item.done) item.settle.reject(err);
      });
    }
    return settles;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.queue;
    const generators = await Promise.allSettled(this.generators.values());
    this.generators.clear();
    for (const g of generators) if (g.status === 'fulfilled') for (const r of g.value.ranges) await r.session.dispose();
    const decoder = this.decoder ? await this.decoder.catch(() => null) : null;
    this.decoder = null;
    await decoder?.dispose();
    await this.textEncoder.dispose();
  }

  // ---------------------------------------------------------------- one batch

  private async runBatch(items: LiveItem[]): Promise<void> {
    const started = performance.now();
    const cfg = this.model.generatorConfig;
    const S = scaleCount(cfg);
    const imageRows: NoiseRow[] = items.flatMap((item) =>
      item.request.seeds.map((seed) => ({ seed, moreSmooth: item.request.more_smooth })),
    );
    const B = this.sessionBatch(imageRows.length);
    // Padding rows repeat the first image (its text is encoded already) and are dropped.
    const padded = <T>(values: T[]) => [...values, ...Array<T>(B - values.length).fill(values[0])];
    const rows = padded(imageRows);
    const moreSmooth = items.some((i) => i.request.more_smooth);
    const perRow = <T>(pick: (r: GenerateRequest) => T) => padded(items.flatMap((i) => i.request.seeds.map(() => pick(i.request))));
    const stillLive = () => items.filter((i) => !i.done);

    const generators = await this.generatorSessions(B, moreSmooth);

    // ---- text (STAR-SPEC §2): rows 0..B−1 prompts, B..2B−1 negative prompts or ""
    const textStart = performance.now();
    const text = await this.textEncoder.encode(
      perRow((r) => r.prompt),
      perRow((r) => r.negative_prompt),
    );
    const textMs = performance.now() - textStart;
    this.rejectAborted(items);
    if (!stillLive().length) return;

    // ---- generator
    const generateStart = performance.now();
    const state = new Map<string, RuntimeTensor>([
      [generatorNames.textHidden, text.hidden],
      [generatorNames.textMask, text.mask],
      [generatorNames.pooled, text.pooled],
      [generatorNames.cfg, tensor('float32', Float32Array.from(perRow((r) => r.cfg)), [B])],
      [generatorNames.topK, tensor('int64', BigInt64Array.from(perRow((r) => BigInt(r.top_k))), [B])],
      [generatorNames.topP, tensor('float32', Float32Array.from(perRow((r) => r.top_p)), [B])],
      [
        generatorNames.moreSmooth,
        tensor(
          'bool',
          Uint8Array.from(rows, (r) => (r.moreSmooth ? 1 : 0)),
          [B],
        ),
      ],
    ]);
    const plan = this.noisePlanConfig();
    const noise = new BatchNoise(plan, rows);
    const allNoise = noisePlan(plan, true);
    let carried: Record<string, RuntimeTensor> = {};
    let fHat: RuntimeTensor | undefined;
    for (const run of generators.ranges) {
      const { first, last, session, weights } = run;
      const noiseInputs: NoiseInput[] = allNoise.filter((n) => session.inputNames.includes(n.name));
      const drawn = noise.draw(first, last + 1, noiseInputs);
      for (const input of noiseInputs) {
        const values = drawn.get(input.name);
        if (values) state.set(input.name, tensor('float32', values, [B, ...input.shape]));
      }
      const feeds: Record<string, RuntimeTensor> = { ...weights };
      for (const name of session.inputNames) {
        if (feeds[name]) continue;
        const value = carried[name] ?? state.get(name);
        if (!value) throw new Error(`generator scales ${first}..${last}: no value for graph input ${name}`);
        feeds[name] = value;
      }
      const out = await session.run(feeds, { into: run.outputs });
      run.outputs ??= out;
      carried = carriedFeeds(out, cfg.depth, carried);
      fHat = out[generatorNames.fHat];
      for (let si = first; si <= last; si++) await this.progress(items, si, S, si === last ? fHat : undefined);
      this.rejectAborted(items);
      if (!stillLive().length) return;
    }
    const generateMs = performance.now() - generateStart;

    // ---- decode (STAR-SPEC §5.2)
    const decodeStart = performance.now();
    if (!fHat) throw new Error('the generator ran no scales');
    const images = await this.decode(fHat);
    const decodeMs = performance.now() - decodeStart;
    this.rejectAborted(items);
    const timings: StageTimings = { textMs, generateMs, decodeMs, totalMs: performance.now() - started };
    for (const item of stillLive()) {
      item.done = true;
      item.settle.resolve({ images: item.rows.map((r) => images[r]), timings, batchSize: B });
    }
  }

  /** Progress after scale si for every live item, with previews for those who asked (f_hat given when it is current). */
  private async progress(items: LiveItem[], si: number, S: number, fHat: RuntimeTensor | undefined): Promise<void> {
    const live = items.flatMap((item) => (!item.done && item.options.onProgress ? [{ item, onProgress: item.options.onProgress }] : []));
    if (!live.length) return;
    const side = this.model.generatorConfig.patchNums[si];
    let previews: RgbImage[] | undefined;
    if (fHat && live.some(({ item }) => item.options.preview)) {
      previews = await (await this.decoderSession()).preview(fHat, Math.min(side, this.options.previewLatentSide));
    }
    for (const { item, onProgress } of live) {
      const event: ProgressEvent = { scale: si + 1, scales: S, side };
      if (previews && item.options.preview) event.previews = item.rows.map((r) => previews[r]);
      try {
        onProgress(event);
      } catch {
        // A failing progress listener must not break the batch for others.
      }
    }
  }

  /** The session batch that runs `images` images (batchSizes: the smallest fitting one). */
  private sessionBatch(images: number): number {
    const sizes = this.options.batchSizes;
    if (!sizes) return images;
    const size = sizes.find((b) => b >= images);
    if (size === undefined)
      throw new Error(
        `a batch of ${images} images is more than this pipeline's largest batch (${sizes[sizes.length - 1]}, GPU memory plan)`,
      );
    return size;
  }

  private rejectAborted(items: LiveItem[]): void {
    for (const item of items) {
      if (!item.done && item.options.signal?.aborted) {
        item.done = true;
        item.settle.reject(item.options.signal.reason);
      }
    }
  }

  private async decode(fHat: RuntimeTensor): Promise<RgbImage[]> {
    return (await this.decoderSession()).decode(fHat);
  }

  private noisePlanConfig(): NoisePlanConfig {
    const cfg = this.model.generatorConfig;
    const fromIdx = samplerFromIdx(cfg);
    return {
      patchNums: cfg.patchNums,
      vocabSize: cfg.vocabSize,
      ...(Number.isFinite(fromIdx) ? { sampler: samplerNoisePlan(fromIdx, cfg.sampleVersion) } : {}),
    };
  }

  // ---------------------------------------------------------------- graphs and sessions

  /** Bytes of generator weights held in memory to feed its sessions (weightBinding 'inputs'), else 0. */
  get fedWeightBytes(): number {
    return this.weightFeeder?.byteLength ?? 0;
  }

  /** The generator runs of batch size `batch` opened so far, with what crossed into and out of each (runtime.ts Transfers). */
  async generatorTransfers(batch: number, moreSmooth = false): Promise<{ first: number; last: number; transfers: Transfers }[]> {
    const sessions = await this.generators.get(`${batch}:${moreSmooth}`);
    return (sessions?.ranges ?? []).map(({ first, last, session }) => ({ first, last, transfers: session.transfers }));
  }

  /** The generator runs of one generation (see scaleRanges). */
  scaleRanges(): { first: number; last: number }[] {
    const cfg = this.model.generatorConfig;
    const maxCarriedTokens = this.options.carriedBytesPerImage / carriedBytesPerToken(cfg, this.options.precision);
    return scaleRanges(cfg.patchNums, this.options.mode, this.options.perScaleMinTokens, maxCarriedTokens);
  }

  private generatorSessions(batch: number, moreSmooth: boolean): Promise<GeneratorSessions> {
    const key = `${batch}:${moreSmooth}`;
    let entry = this.generators.get(key);
    if (entry) {
      this.generators.delete(key); // re-insert: Map order = least recently used first
      this.generators.set(key, entry);
      return entry;
    }
    entry = this.openGeneratorSessions(batch, moreSmooth);
    this.generators.set(key, entry);
    entry.catch(() => this.generators.delete(key));
    void this.evictGenerators();
    return entry;
  }

  private async evictGenerators(): Promise<void> {
    while (this.generators.size > this.options.maxBatchSessions) {
      const next = this.generators.entries().next();
      if (next.done) return;
      const [oldestKey, oldest] = next.value;
      this.generators.delete(oldestKey);
      const sessions = await oldest.catch(() => null);
      // Batches run one at a time, and this one is not the current batch's size.
      await this.queue;
      for (const r of sessions?.ranges ?? []) await r.session.dispose();
    }
  }

  private async openGeneratorSessions(batch: number, moreSmooth: boolean): Promise<GeneratorSessions> {
    const ranges = [];
    for (const range of this.scaleRanges()) {
      const modelPath = this.generatorGraphPath(batch, range.first, range.last, moreSmooth);
      const session = await Session.create(modelPath, {
        device: this.options.device,
        threads: this.options.threads,
        prepackWeights: this.options.prepackWeights,
        // Per-scale sessions run one after another: none should keep its peak working memory.
        memoryArena: this.options.mode === 'all' && this.options.memoryArena,
      });
      ranges.push({ ...range, session, weights: this.weightFeeder?.feeds(session.inputNames) ?? {} });
    }
    return { batch, moreSmooth, ranges };
  }

  /** Disk-cached generator graph for one batch size and scale range. */
  generatorGraphPath(batch: number, first: number, last: number, moreSmooth: boolean): string {
    const { generatorConfig: cfg, vqvaeConfig: vae, generatorWeights, vqvaeWeights, manifest, fingerprint } = this.model;
    const { precision, crossAttn, attention, weightBinding } = this.options;
    const prefixSum = prefixSumFor(this.options.device);
    const key = {
      graph: 'star-generator',
      model: manifest.name,
      config: cfg,
      vqvae: vae,
      precision,
      crossAttn,
      attention,
      batch,
      first,
      last,
      moreSmooth,
      prefixSum,
      weightBinding,
      weights: fingerprint,
    };
    return cachedModel(
      key,
      () => {
        const quantizer = vqvaeQuantizer(vqvaeWeights, vae, cfg.patchNums, { precision: floatPrecision(precision) });
        const samplerPath = cfg.hasSamplerHead ? createSamplerPath({ codebook: quantizer.codebook, attention }) : undefined;
        return buildGeneratorGraph(generatorWeights, cfg, {
          batch,
          first,
          last,
          crossAttn,
          attention,
          precision,
          moreSmooth,
          prefixSum,
          quantizer,
          samplerPath,
          weights: weightBinding,
        });
      },
      this.options.cacheDir,
      { pool: JSON.stringify({ model: manifest.name, weights: fingerprint, precision }) },
    ).modelPath;
  }

  private decoderSession(): Promise<VqvaeDecoder> {
    if (!this.decoder) {
      const { vqvaeConfig, vqvaeWeights, fingerprint, manifest } = this.model;
      this.decoder = VqvaeDecoder.load(vqvaeWeights, vqvaeConfig, {
        device: this.options.device,
        precision: floatPrecision(this.options.precision),
        threads: this.options.threads,
        memoryArena: this.options.memoryArena,
        weightsKey: JSON.stringify({ model: manifest.name, weights: fingerprint }),
        cacheDir: this.options.cacheDir,
      });
      this.decoder.catch(() => {
        this.decoder = null;
      });
    }
    return this.decoder;
  }
}

/**
 * Scale ranges, one generator run each. 'all': one range. 'per-scale': one
 * range per scale, except that scales with fewer than `minTokens` tokens
 * join the next scale's run (fewer sessions and runs; each run copies the KV
 * cache in and out, but every scale still streams all weights once), and no
 * run ends where more than `maxCarriedTokens` tokens of KV cache would cross
 * to the next (the rest of the scales then share one run).
 */
export function scaleRanges(
  patchNums: readonly number[],
  mode: GeneratorMode,
  minTokens: number,
  maxCarriedTokens = Infinity,
): { first: number; last: number }[] {
  const S = patchNums.length;
  if (mode === 'all') return [{ first: 0, last: S - 1 }];
  const ranges: { first: number; last: number }[] = [];
  let first = 0;
  let carried = 0;
  for (let si = 0; si < S; si++) {
    carried += patchNums[si] ** 2;
    const last = si === S - 1;
    if (!last && (patchNums[si] ** 2 < minTokens || carried > maxCarriedTokens)) continue;
    ranges.push({ first, last: si });
    first = si + 1;
  }
  return ranges;
}

/**
 * KV cache that may cross between two per-scale runs on CUDA, per image.
 * onnxruntime-node cannot keep a CUDA output on the device for the next run
 * (its 'gpu-buffer' output location binds WebGPU buffers only), so every run
 * boundary copies the carried state to the host and back. Early scales carry
 * little (star-1024-d30: 0.45 MB per token): their boundaries give progress,
 * previews and cancellation for ≤ 2 × 32 MiB of copies each; the scales after
 * the limit run as one (engine README, "Per-scale runs on CUDA").
 */
export const CUDA_CARRIED_BYTES_PER_IMAGE = 32 * 1024 ** 2;

/** KV-cache bytes one token adds per image: both CFG rows, every block, key and value. */
export function carriedBytesPerToken(cfg: GeneratorConfig, precision: Precision): number {
  return 2 * cfg.depth * 2 * cfg.width * (precision === 'fp16' ? 2 : 4);
}

/** Why a request cannot run, or null. */
export function validateRequest(r: GenerateRequest): string | null {
  if (typeof r.prompt !== 'string') return 'prompt must be a string';
  if (r.negative_prompt !== undefined && typeof r.negative_prompt !== 'string') return 'negative_prompt must be a string';
  if (!Array.isArray(r.seeds) || r.seeds.length < 1) return 'seeds must list at least one seed';
  for (const seed of r.seeds)
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) return `each seed must be an integer in [0, 2^32), got ${seed}`;
  if (!Number.isFinite(r.cfg)) return `cfg must be a finite number, got ${r.cfg}`;
  if (!Number.isInteger(r.top_k) || r.top_k < 0) return `top_k must be a non-negative integer, got ${r.top_k}`;
  if (!(r.top_p >= 0 && r.top_p <= 1)) return `top_p must be in [0, 1], got ${r.top_p}`;
  return null;
}
