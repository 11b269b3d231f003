// The CLIP text model's shape, read once from a Hugging Face `config.json`
// (CLIPTextConfig, or a CLIPConfig whose `text_config` holds it) and validated.
import { readFileSync } from 'node:fs';

export type ClipActivation = 'gelu' | 'quick_gelu';

export interface ClipTextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  maxPositions: number;
  activation: ClipActivation;
  layerNormEps: number;
  /**
   * The id whose first occurrence marks the pooled position. HF's legacy
   * configs say `eos_token_id: 2` and then pool at argmax(input_ids); with
   * CLIP's vocabulary the largest id is `<|endoftext|>` (vocab_size − 1), so
   * that is the id we look for. Otherwise `eos_token_id` itself.
   */
  eosTokenId: number;
}

const ACTIVATIONS: readonly string[] = ['gelu', 'quick_gelu'];

export function parseClipTextConfig(json: unknown, source = 'config.json'): ClipTextConfig {
  const root = json as Record<string, unknown>;
  const c = (typeof root.text_config === 'object' && root.text_config !== null ? root.text_config : root) as Record<string, unknown>;
  const int = (key: string): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new Error(`${source}: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const vocabSize = int('vocab_size');
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  if (hiddenSize % numHeads !== 0)
    throw new Error(`${source}: hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  const activation = c.hidden_act ?? 'quick_gelu';
  if (typeof activation !== 'string' || !ACTIVATIONS.includes(activation)) {
    throw new Error(`${source}: hidden_act ${JSON.stringify(activation)} is not supported (use ${ACTIVATIONS.join(' or ')})`);
  }
  const eps = c.layer_norm_eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new Error(`${source}: layer_norm_eps must be a positive number`);
  const eos = c.eos_token_id ?? 2;
  if (typeof eos !== 'number' || !Number.isInteger(eos)) throw new Error(`${source}: eos_token_id must be an integer`);
  return {
    vocabSize,
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    maxPositions: int('max_position_embeddings'),
    activation: activation as ClipActivation,
    layerNormEps: eps,
    eosTokenId: eos === 2 ? vocabSize - 1 : eos,
  };
}

export function readClipTextConfig(path: string): ClipTextConfig {
  return parseClipTextConfig(JSON.parse(readFileSync(path, 'utf8')), path);
}
