// The one module that talks to onnxruntime-node: device → execution provider,
// session creation with clear errors, tensors in and out, and serialized runs
// (onnxruntime sessions are not meant to run concurrently from one thread
// pool; we queue deliberately instead of by accident).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DType, TypedArray } from './dtype.ts';
import { Graph } from './graph.ts';
import { matmul } from './ops.ts';
import { toModelBytes } from './serialize.ts';

import type { Device } from './target.ts';

export interface SessionOptions {
  device: Device;
  /** Intra-op threads on CPU; defaults to onnxruntime's choice (all cores). */
  threads?: number;
  /**
   * Weight prepacking (onnxruntime's default): MatMul weights are copied into
   * a GEMM-friendly layout at load. Off (`false`), external weights stay
   * memory-mapped from the file, shared by every session that maps it.
   */
  prepackWeights?: boolean;
  /**
   * onnxruntime's CPU memory arena (default on) keeps each session's peak
   * working memory after a run. Off (`false`), intermediate buffers go back
   * to the system after every run: what many sessions that run one after
   * another (the per-scale generator graphs) want.
   */
  memoryArena?: boolean;
  /**
   * onnxruntime's memory pattern (default on): after the first run at a shape, a run's
   * intermediate buffers come from one block planned for them, allocated as the run starts
   * (and, with the arena off, freed as it ends). Off (`false`, for comparisons), every node's
   * output is a fresh allocation page-faulted in on every run: 2.4× the VQVAE decoder's time,
   * 1.3–1.4× the generator's (engine README, "Memory").
   */
  memoryPattern?: boolean;
}

export type Feeds = Record<string, RuntimeTensor>;

export interface RuntimeTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TypedArray;
}

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
  uint8: 'uint8',
  int8: 'int8',
  float64: 'float64',
};

export function tensor(dtype: DType, data: TypedArray, dims: readonly number[]): RuntimeTensor {
  return { dtype, data, dims };
}

/** Bytes that crossed between JavaScript and onnxruntime (on CUDA: host ↔ device copies). */
export interface Transfers {
  runs: number;
  bytesIn: number;
  bytesOut: number;
  /** Per tensor name, of the latest run. */
  lastRun: { in: Record<string, number>; out: Record<string, number> };
}

export interface RunOptions {
  /** Outputs to fetch (default all); onnxruntime still runs every node. */
  fetches?: readonly string[];
  /**
   * Tensors of the named outputs' dtype and dims that the run writes those
   * outputs into, returned in their place: memory reused from run to run.
   * (onnxruntime-node 1.30 still returns its own copy of each, dropped here.)
   */
  into?: Record<string, RuntimeTensor>;
}

function ortTensor(name: string, t: RuntimeTensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new Error(`${name}: dtype ${t.dtype} is not supported by onnxruntime-node`);
  return new ort.Tensor(type, t.data as ort.Tensor.DataType, t.dims);
}

export class Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly transfers: Transfers = { runs: 0, bytesIn: 0, bytesOut: 0, lastRun: { in: {}, out: {} } };
  private readonly session: ort.InferenceSession;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(session: ort.InferenceSession) {
    this.session = session;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
  }

  /** Loads a model from a file path (external data resolves next to it) or from bytes. */
  static async create(model: string | Uint8Array, options: SessionOptions): Promise<Session> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: executionProviders(options.device),
      graphOptimizationLevel: 'all',
      interOpNumThreads: 1,
      executionMode: 'sequential',
    };
    if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
    // 0 (verbose) lists the nodes each execution provider got; the device check reads it.
    if (process.env.STAR_ORT_LOG_LEVEL) sessionOptions.logSeverityLevel = Number(process.env.STAR_ORT_LOG_LEVEL) as 0 | 1 | 2 | 3 | 4;
    sessionOptions.extra = {
      // A run's intra-op threads otherwise spin on after it ends, taking cores from the
      // next session's run: the pipeline runs sessions back to back (text encoder,
      // generator per scale, decoder), and scale 2's run right after scale 1's took
      // 1.3–1.5× its time in a loop of its own (engine README, "Generation").
      'session.force_spinning_stop': '1',
      ...(options.prepackWeights === false ? { 'session.disable_prepacking': '1' } : {}),
    };
    if (options.memoryArena === false) sessionOptions.enableCpuMemArena = false;
    // A path prefix: each session writes onnxruntime's per-node profile (JSON) there when disposed.
    if (process.env.STAR_ORT_PROFILE) {
      sessionOptions.enableProfiling = true;
      sessionOptions.profileFilePrefix = process.env.STAR_ORT_PROFILE;
    }
    sessionOptions.enableMemPattern = options.memoryPattern !== false;
    try {
      const session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, sessionOptions)
          : await ort.InferenceSession.create(model, sessionOptions);
      return new Session(session);
    } catch (err) {
      const where = typeof model === 'string' ? model : `${model.byteLength}-byte model`;
      const hint = options.device === 'cuda' ? ` (${CUDA_HINT})` : '';
      throw new Error(`onnxruntime could not load ${where} on ${options.device}: ${(err as Error).message}${hint}`, { cause: err });
    }
  }

  /** Runs the graph; concurrent calls on one session are queued. */
  run(feeds: Feeds, options: RunOptions = {}): Promise<Record<string, RuntimeTensor>> {
    const next = this.queue.then(() => this.runNow(feeds, options));
    this.queue = next.catch(() => undefined);
    return next;
  }

  async dispose(): Promise<void> {
    await this.queue;
    if (process.env.STAR_ORT_PROFILE) this.session.endProfiling();
    await this.session.release();
  }

  private async runNow(feeds: Feeds, { fetches = this.outputNames, into = {} }: RunOptions): Promise<Record<string, RuntimeTensor>> {
    const input: Record<string, ort.Tensor> = {};
    const lastRun: Transfers['lastRun'] = { in: {}, out: {} };
    for (const [name, t] of Object.entries(feeds)) {
      input[name] = ortTensor(name, t);
      lastRun.in[name] = t.data.byteLength;
    }
    const outputs: Record<string, ort.Tensor | null> = {};
    for (const name of fetches) outputs[name] = into[name] ? ortTensor(name, into[name]) : null;
    const results = await this.session.run(input, outputs);
    const out: Record<string, RuntimeTensor> = {};
    for (const [name, t] of Object.entries(results)) {
      out[name] = into[name] ?? { dtype: t.type as DType, dims: t.dims, data: float16AsUint16(t.data as TypedArray) };
      lastRun.out[name] = out[name].data.byteLength;
    }
    const sum = (bytes: Record<string, number>) => Object.values(bytes).reduce((a, b) => a + b, 0);
    this.transfers.runs++;
    this.transfers.bytesIn += sum(lastRun.in);
    this.transfers.bytesOut += sum(lastRun.out);
    this.transfers.lastRun = lastRun;
    return out;
  }
}

/**
 * fp16 data as raw Uint16 bits (dtype.ts's type for float16). On Node ≥ 24 onnxruntime
 * hands fp16 outputs out as Float16Array, which onnxruntime-node before 1.30 refuses as
 * an input ("not enough space"), so a per-scale run could not take the previous one's
 * KV cache; a view over the same bytes costs nothing.
 */
function float16AsUint16(data: TypedArray): TypedArray {
  const isFloat16 = typeof Float16Array !== 'undefined' && (data as ArrayBufferView) instanceof Float16Array;
  return isFloat16 ? new Uint16Array(data.buffer, data.byteOffset, data.length) : data;
}

const CUDA_HINT =
  'the CUDA provider needs onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12 and CUDA 12 + cuDNN 9 libraries; see gpu-service/Dockerfile';

/** The CUDA provider library onnxruntime loads at the first CUDA session; it sits beside onnxruntime-node's binding. */
export function cudaProviderLibrary(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node'); // <package>/dist/index.js
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
}

/** Why CUDA cannot work here, or null when its provider library is installed. */
export function cudaProviderProblem(): string | null {
  if (!ort.listSupportedBackends().some((b) => b.name === 'cuda')) return `this onnxruntime-node build has no CUDA backend (${CUDA_HINT})`;
  if (!existsSync(cudaProviderLibrary())) return `${cudaProviderLibrary()} is missing (${CUDA_HINT})`;
  return null;
}

/** Opens a one-node graph on CUDA: the provider library loads and finds CUDA, cuBLAS and the GPU, or this says why not. */
export async function probeCuda(): Promise<void> {
  const g = new Graph('cuda_probe');
  g.output(matmul(g.input('a', 'float32', [2, 2]), g.input('b', 'float32', [2, 2])), 'c');
  const session = await Session.create(toModelBytes(g), { device: 'cuda' });
  await session.dispose();
}

function executionProviders(device: Device): ort.InferenceSession.ExecutionProviderConfig[] {
  if (device === 'cpu') return ['cpu'];
  const problem = cudaProviderProblem();
  if (problem) throw new Error(`DEVICE=cuda: ${problem}`);
  // cuBLAS and cuDNN read this when their handles are created. onnxruntime's CUDA provider
  // otherwise runs fp32 products in TF32 (10-bit mantissa), moving the fp32 parts of the
  // graphs (logits, the sampling sums) by ~1e-3. STAR_ALLOW_TF32=1 keeps the library default.
  if (process.env.STAR_ALLOW_TF32 !== '1') process.env.NVIDIA_TF32_OVERRIDE = '0';
  return [{ name: 'cuda' }, 'cpu'];
}
