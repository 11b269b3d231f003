// Prompts → the generator's text inputs (STAR-SPEC §2): tokenize, run the CLIP
// text graph, hand back tensors ready to feed.
//
// Each distinct text is encoded in a run of its own and kept in a small LRU
// cache: a row's encoding then never depends on which other prompts share
// the batch (kernels may pick other algorithms for other shapes, and the
// same seed must give the same image however requests are batched), and the
// empty unconditional prompt is encoded once per process.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cachedModel } from '../../onnx/cache.ts';
import type { RuntimeTensor } from '../../onnx/runtime.ts';
import type { Device, Precision } from '../../onnx/target.ts';
import { Session, tensor } from '../../onnx/runtime.ts';
import { ClipTokenizer } from '../../tokenizer/clip-tokenizer.ts';
import { openWeights } from '../../weights/open.ts';
import { buildTextEncoderGraph } from './clip-text.ts';
import type { ClipTextConfig } from './config.ts';
import { readClipTextConfig } from './config.ts';

/** The CFG batch's text: rows 0..B−1 conditional, B..2B−1 unconditional. */
export interface TextEncoding {
  /** `last_hidden_state`, float32 [2B, T, D]: the cross-attention keys and values. */
  hidden: RuntimeTensor;
  /** The tokenizer's 0/1 mask, int64 [2B, T]. */
  mask: RuntimeTensor;
  /** Hidden state at each row's first EOS, float32 [2B, D]: the start token's input. */
  pooled: RuntimeTensor;
}

export interface TextEncoderLoadOptions {
  /** HF `text_encoder/` folder: config.json + model.safetensors or pytorch_model.bin. */
  textEncoderDir: string;
  /** HF `tokenizer/` folder: vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json. */
  tokenizerDir: string;
  device: Device;
  /**
   * Default fp32, and the pipeline always asks for fp32 whatever the
   * generator runs at: upstream encodes text outside autocast (STAR-SPEC
   * §2.2), and 77 tokens cost little. 'fp16' (clip-text.ts: fp16 matrices,
   * embeddings and attention; fp32 residual stream, LayerNorms and
   * activation) halves the weights' memory for a caller that needs that.
   */
  precision?: Precision;
  threads?: number;
  /** onnxruntime's CPU memory arena (runtime.ts SessionOptions.memoryArena); default on. */
  memoryArena?: boolean;
  /** Where built graphs are cached (onnx/cache.ts's default when omitted). */
  cacheDir?: string;
  /** Encoded texts kept in memory (default 64; SD-2.1: 0.3 MB each). */
  cachedTexts?: number;
}

/**
 * The weights file in a Hugging Face text_encoder/ folder. Transformers
 * writes model.safetensors today and pytorch_model.bin (a torch.save zip)
 * before; STAR's CLIP/text_encoder/ ships the latter. Either is opened by
 * content through openWeights.
 */
export const TEXT_ENCODER_WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin'] as const;

export function textEncoderWeightsPath(dir: string): string {
  const found = TEXT_ENCODER_WEIGHT_FILES.map((name) => resolve(join(dir, name))).find((path) => existsSync(path));
  if (!found) throw new Error(`${resolve(dir)}: no text encoder weights (${TEXT_ENCODER_WEIGHT_FILES.join(' or ')})`);
  return found;
}

/** One text's encoder outputs and its tokenizer mask. */
interface EncodedRow {
  hidden: Float32Array;
  pooled: Float32Array;
  mask: BigInt64Array;
}

const DEFAULT_CACHED_TEXTS = 64;

export class TextEncoder {
  readonly tokenizer: ClipTokenizer;
  readonly config: ClipTextConfig;
  private readonly session: Session;
  private readonly cachedTexts: number;
  private readonly rows = new Map<string, Promise<EncodedRow>>();

  constructor(tokenizer: ClipTokenizer, config: ClipTextConfig, session: Session, cachedTexts = DEFAULT_CACHED_TEXTS) {
    this.tokenizer = tokenizer;
    this.config = config;
    this.session = session;
    this.cachedTexts = cachedTexts;
  }

  static async load(options: TextEncoderLoadOptions): Promise<TextEncoder> {
    const precision = options.precision ?? 'fp32';
    const tokenizer = await ClipTokenizer.fromFiles(options.tokenizerDir);
    const weightsPath = textEncoderWeightsPath(options.textEncoderDir);
    // The pooled position is the tokenizer's EOS, whatever the config's legacy id says.
    const config = { ...readClipTextConfig(join(options.textEncoderDir, 'config.json')), eosTokenId: tokenizer.eosId };
    if (tokenizer.maxLength > config.maxPositions) {
      throw new Error(`tokenizer pads to ${tokenizer.maxLength} tokens but the text encoder has ${config.maxPositions} positions`);
    }
    const weights = statSync(weightsPath);
    const key = {
      graph: 'clip-text',
      weights: weightsPath,
      size: weights.size,
      mtime: weights.mtimeMs,
      config,
      precision,
      sequenceLength: tokenizer.maxLength,
    };
    const build = () => buildTextEncoderGraph(openWeights(weightsPath), config, { precision, sequenceLength: tokenizer.maxLength });
    const { modelPath } = cachedModel(key, build, options.cacheDir);
    const session = await Session.create(modelPath, { device: options.device, threads: options.threads, memoryArena: options.memoryArena });
    return new TextEncoder(tokenizer, config, session, options.cachedTexts);
  }

  /**
   * Encodes `prompts` and, as the unconditional rows, `negativePrompts[i]`
   * for prompt i (a negative prompt replaces the empty prompt; missing or
   * undefined entries are "").
   */
  async encode(prompts: readonly string[], negativePrompts: readonly (string | undefined)[] = []): Promise<TextEncoding> {
    const B = prompts.length;
    if (B === 0) throw new Error('text encoder: no prompts');
    if (negativePrompts.length > B) throw new Error(`text encoder: ${negativePrompts.length} negative prompts for ${B} prompts`);
    const texts = [...prompts, ...prompts.map((_, i) => negativePrompts[i] ?? '')];
    const T = this.tokenizer.maxLength;
    const D = this.config.hiddenSize;
    const rows = await Promise.all(texts.map((text) => this.row(text)));
    const hidden = new Float32Array(texts.length * T * D);
    const pooled = new Float32Array(texts.length * D);
    const mask = new BigInt64Array(texts.length * T);
    rows.forEach((row, r) => {
      hidden.set(row.hidden, r * T * D);
      pooled.set(row.pooled, r * D);
      mask.set(row.mask, r * T);
    });
    return {
      hidden: tensor('float32', hidden, [texts.length, T, D]),
      mask: tensor('int64', mask, [texts.length, T]),
      pooled: tensor('float32', pooled, [texts.length, D]),
    };
  }

  /** One text's outputs, from the cache (most recently used last) or a run of its own. */
  private row(text: string): Promise<EncodedRow> {
    let row = this.rows.get(text);
    if (row) {
      this.rows.delete(text);
    } else {
      row = this.run(text);
      row.catch(() => this.rows.delete(text));
    }
    this.rows.set(text, row);
    for (const oldest of this.rows.keys()) {
      if (this.rows.size <= this.cachedTexts) break;
      this.rows.delete(oldest);
    }
    return row;
  }

  private async run(text: string): Promise<EncodedRow> {
    const one = this.tokenizer.encodeBatch([text]);
    const out = await this.session.run({
      input_ids: tensor('int64', one.inputIds, [1, one.maxLength]),
      attention_mask: tensor('int64', one.attentionMask, [1, one.maxLength]),
    });
    return { hidden: out.last_hidden_state.data as Float32Array, pooled: out.pooled.data as Float32Array, mask: one.attentionMask };
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
