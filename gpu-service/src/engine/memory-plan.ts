// Which batch sizes fit on one GPU. onnxruntime's CUDA provider gives every
// session its own copy of the weights and its own arena, which keeps its
// high-water mark, and the generator graph has a static batch: each batch size
// is a session holding weights + its batch's working memory. So the plan
// keeps at most two generator sessions (batch 1 and the largest that fits,
// smaller batches padded up to it) and refuses at start what cannot fit,
// rather than letting onnxruntime fail with out-of-memory mid-request.
//
// Calibration (bench/gpu-check.sh on an H200, star-1024-d30 shapes, fp16, one
// run, batch 1): the GPU memory peak was 27.3 GiB where the tensors counted
// below come to 14.2 GiB. onnxruntime's CUDA arena grows by powers of two and
// keeps what it took, so working memory is counted twice (ARENA_GROWTH):
// 3.1 + 2 × 11.1 + 2 GiB reserve = 27.3 GiB.
import type { GeneratorConfig } from './models/generator/config.ts';
import { generatorWeightShapes, totalTokens } from './models/generator/config.ts';
import type { VqvaeConfig } from './models/vqvae/config.ts';
import { downsampleFactor } from './models/vqvae/config.ts';
import { BYTES_PER_ELEMENT } from './onnx/dtype.ts';
import type { Precision } from './onnx/target.ts';

export interface GeneratorMemory {
  /** Generator weights as one session holds them. */
  weightsBytes: number;
  /** Working memory of one image (both CFG rows): KV cache, text K/V, the last scale's activations and sampling tensors. */
  perImageBytes: number;
  /** Decoder working memory of one full-size image. */
  decodePerImageBytes: number;
}

const GIB = 1024 ** 3;

/** Working-memory factor over the tensors counted (onnxruntime keeps inputs and outputs of neighbouring nodes alive). */
const ACTIVATION_SLACK = 2;
/** The CUDA arena extends by powers of two and keeps its high-water mark: what working memory costs in device memory. */
const ARENA_GROWTH = 2;

export function generatorMemory(cfg: GeneratorConfig, vqvae: VqvaeConfig, precision: Precision): GeneratorMemory {
  const compute = precision === 'fp16' ? BYTES_PER_ELEMENT.float16 : BYTES_PER_ELEMENT.float32;
  const f32 = BYTES_PER_ELEMENT.float32;
  let params = 0;
  for (const shape of generatorWeightShapes(cfg).values()) params += shape.reduce((a, b) => a * b, 1);
  const rows = 2; // CFG: conditional and unconditional
  const C = cfg.width;
  const last = cfg.patchNums[cfg.patchNums.length - 1] ** 2;
  const kvCache = rows * cfg.depth * 2 * totalTokens(cfg) * C * compute;
  const textKv = cfg.depth * 2 * cfg.textLength * C * f32;
  // The last scale: residual stream and LN in fp32, q/k/v, attention output and the FFN hidden layer at compute precision.
  const blockActivations = rows * last * (2 * C * f32 + (4 * C + cfg.mlpHidden) * compute);
  // Logits on both rows, then the mix, top-k/top-p (sorted values, int64 order, sums, masks) and probabilities on one.
  const sampling = last * cfg.vocabSize * (rows * f32 + 4 * f32 + 2 * BYTES_PER_ELEMENT.int64 + 2);
  const side = cfg.patchNums[cfg.patchNums.length - 1] * downsampleFactor(vqvae);
  const decoderChannels = vqvae.ch * vqvae.chMult[0];
  return {
    weightsBytes: params * compute,
    perImageBytes: kvCache + textKv + ACTIVATION_SLACK * (blockActivations + sampling),
    // Full-resolution feature maps: a ResBlock's input, its two convs' outputs and GroupNorm's fp32 copy.
    decodePerImageBytes: ACTIVATION_SLACK * 4 * side * side * decoderChannels * f32,
  };
}

export interface BatchPlan {
  /** Generator batch sizes to open sessions for, ascending; a batch runs in the smallest one ≥ its size. */
  batchSizes: number[];
  /** Largest batch that fits (0: not even one image). */
  maxBatch: number;
  /** Bytes the plan counts on: weights × sessions + working memory + decoder, per batch size. */
  needBytes: (batch: number) => number;
  /** One line for logs and errors. */
  summary: string;
}

/**
 * Batch sizes for `freeBytes` of GPU memory, at most `wanted` images per
 * batch: [1, largest fitting] (two generator sessions), leaving `reserveBytes`
 * free (CUDA context, cuDNN workspaces, the text encoder).
 */
export function planBatches(memory: GeneratorMemory, freeBytes: number, wanted: number, reserveBytes = 2 * GIB): BatchPlan {
  const budget = freeBytes - reserveBytes;
  const sessionBytes = (batch: number) => memory.weightsBytes + ARENA_GROWTH * batch * memory.perImageBytes;
  const needBytes = (batch: number) =>
    sessionBytes(1) + (batch > 1 ? sessionBytes(batch) : 0) + ARENA_GROWTH * batch * memory.decodePerImageBytes;
  let maxBatch = 0;
  for (let b = 1; b <= wanted && needBytes(b) <= budget; b++) maxBatch = b;
  const batchSizes = maxBatch === 0 ? [] : maxBatch === 1 ? [1] : [1, maxBatch];
  const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;
  const summary =
    `GPU memory plan: ${gib(freeBytes)} free, weights ${gib(memory.weightsBytes)} per session, ${gib(memory.perImageBytes)} per image; ` +
    (maxBatch
      ? `batch sizes ${batchSizes.join(' and ')} need ${gib(needBytes(maxBatch))}`
      : `one image needs ${gib(needBytes(1))}, more than fits`) +
    (maxBatch && maxBatch < wanted ? ` (batches above ${maxBatch} refused)` : '');
  return { batchSizes, maxBatch, needBytes, summary };
}
