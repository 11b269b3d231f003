// Prompts → the generator's text inputs (STAR-SPEC §2): tokenize, run the CLIP
// text graph once for the whole CFG batch, hand back tensors ready to feed.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cachedModel } from '../../onnx/cache.ts';
import type { Device, RuntimeTensor } from '../../onnx/runtime.ts';
import { Session, tensor } from '../../onnx/runtime.ts';
import { ClipTokenizer } from '../../tokenizer/clip-tokenizer.ts';
import { readSafetensors } from '../../weights/safetensors.ts';
import type { Precision } from './clip-text.ts';
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
  /** HF `text_encoder/` folder: config.json + model.safetensors. */
  textEncoderDir: string;
  /** HF `tokenizer/` folder: vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json. */
  tokenizerDir: string;
  device: Device;
  /**
   * fp32 by default on every device: upstream encodes text in fp32 outside
   * autocast (STAR-SPEC §2.2), and 77 tokens cost little even at SD-2.1's
   * size. fp16 halves the weights' memory where that matters.
   */
  precision?: Precision;
  threads?: number;
  /** Where built graphs are cached (onnx/cache.ts's default when omitted). */
  cacheDir?: string;
}

export class TextEncoder {
  readonly tokenizer: ClipTokenizer;
  readonly config: ClipTextConfig;
  private readonly session: Session;

  constructor(tokenizer: ClipTokenizer, config: ClipTextConfig, session: Session) {
    this.tokenizer = tokenizer;
    this.config = config;
    this.session = session;
  }

  static async load(options: TextEncoderLoadOptions): Promise<TextEncoder> {
    const precision = options.precision ?? 'fp32';
    const tokenizer = await ClipTokenizer.fromFiles(options.tokenizerDir);
    const weightsPath = resolve(join(options.textEncoderDir, 'model.safetensors'));
    // The pooled position is the tokenizer's EOS, whatever the config's legacy id says.
    const config = { ...readClipTextConfig(join(options.textEncoderDir, 'config.json')), eosTokenId: tokenizer.eosId };
    if (tokenizer.maxLength > config.maxPositions) {
      throw new Error(`tokenizer pads to ${tokenizer.maxLength} tokens but the text encoder has ${config.maxPositions} positions`);
    }
    const weights = statSync(weightsPath);
    const key = {
      graph: 'clip-text', weights: weightsPath, size: weights.size, mtime: weights.mtimeMs,
      config, precision, sequenceLength: tokenizer.maxLength,
    };
    const build = () => buildTextEncoderGraph(readSafetensors(weightsPath), config, { precision, sequenceLength: tokenizer.maxLength });
    const { modelPath } = cachedModel(key, build, options.cacheDir);
    const session = await Session.create(modelPath, { device: options.device, threads: options.threads });
    return new TextEncoder(tokenizer, config, session);
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
    const batch = this.tokenizer.encodeBatch(texts);
    const T = batch.maxLength;
    const mask = tensor('int64', batch.attentionMask, [2 * B, T]);
    const out = await this.session.run({ input_ids: tensor('int64', batch.inputIds, [2 * B, T]), attention_mask: mask });
    return { hidden: out.last_hidden_state, mask, pooled: out.pooled };
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
