// CLIP's text transformer (HF `CLIPTextModel`, STAR-SPEC §2) as an ONNX graph:
//
//   x = token_embedding[ids] + position_embedding[0..T)
//   for each layer:  x = x + attn(LN1(x), causal ∧ padding mask)
//                    x = x + fc2(act(fc1(LN2(x))))
//   last_hidden_state = final_layer_norm(x)
//   pooled[b]         = last_hidden_state[b, first position where ids[b] == eos]
//
// Weights keep Hugging Face's names (with or without the `text_model.` prefix).
// fp16 stores the matrices and embeddings as fp16 and runs the matmuls and the
// attention in fp16; the residual stream, every LayerNorm and the MLP
// activation stay fp32.
import { Graph } from '../../onnx/graph.ts';
import type { Value } from '../../onnx/graph.ts';
import {
  add,
  and,
  argMax,
  cast,
  constant,
  equal,
  expand,
  gather,
  gatherElements,
  gelu,
  layerNorm,
  mul,
  multiHeadAttention,
  scalar,
  sigmoid,
  slice,
  squeeze,
  unsqueeze,
  where,
} from '../../onnx/ops.ts';
import type { DType } from '../../onnx/dtype.ts';
import type { Precision } from '../../onnx/target.ts';
import { computeDType } from '../../onnx/target.ts';
import { dense, GraphWeights } from '../../onnx/graph-weights.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import type { ClipTextConfig } from './config.ts';

export interface TextEncoderGraphOptions {
  precision: Precision;
  /** Tokens per row; CLIP's tokenizer pads to max_position_embeddings (77). */
  sequenceLength?: number;
}

/**
 * HF adds `torch.finfo(dtype).min` for every masked (query, key) pair, so
 * masked keys get exactly zero weight after the softmax. No row is ever fully
 * masked: key 0 (BOS) is valid and visible to every query under the causal
 * mask. fp16 uses its own most negative finite value.
 */
const MASKED: Partial<Record<DType, number>> = { float32: -3.4028234663852886e38, float16: -65504 };

export function buildTextEncoderGraph(weights: TensorStore, cfg: ClipTextConfig, options: TextEncoderGraphOptions): Graph {
  const T = options.sequenceLength ?? cfg.maxPositions;
  if (T > cfg.maxPositions) throw new Error(`text encoder: sequence length ${T} exceeds max_position_embeddings ${cfg.maxPositions}`);
  const D = cfg.hiddenSize;
  const g = new Graph('clip_text_model');
  // HF names, with or without the `text_model.` prefix
  const keyPrefix = weights.has('text_model.embeddings.token_embedding.weight') ? 'text_model.' : '';
  const w = new GraphWeights(g, weights, options.precision, { keyPrefix });

  const ids = g.input('input_ids', 'int64', ['batch', T]);
  const mask = g.input('attention_mask', 'int64', ['batch', T]);

  let x = g.scope('embeddings', () => {
    const tokens = gather(w.matrix('embeddings.token_embedding.weight', [cfg.vocabSize, D]), ids);
    const positions = slice(w.matrix('embeddings.position_embedding.weight', [cfg.maxPositions, D]), [0], [T], [0]);
    return add(cast(tokens, 'float32'), cast(positions, 'float32'));
  });

  const bias = g.scope('attention_bias', () => attentionBias(mask, T, options.precision));
  for (let i = 0; i < cfg.numLayers; i++) {
    x = g.scope(`layers.${i}`, () => encoderLayer(x, bias, w, `encoder.layers.${i}`, cfg));
  }
  const hidden = layerNorm(x, cfg.layerNormEps, w.float32('final_layer_norm.weight', [D]), w.float32('final_layer_norm.bias', [D]));
  g.output(hidden, 'last_hidden_state');
  g.output(
    g.scope('pooler', () => pooledAtFirstEos(hidden, ids, cfg.eosTokenId)),
    'pooled',
  );
  return g;
}

function encoderLayer(x: Value, bias: Value, w: GraphWeights, p: string, cfg: ClipTextConfig): Value {
  const D = cfg.hiddenSize;
  const ln = (name: string, v: Value) =>
    layerNorm(v, cfg.layerNormEps, w.float32(`${p}.${name}.weight`, [D]), w.float32(`${p}.${name}.bias`, [D]));
  x = add(x, selfAttention(ln('layer_norm1', x), bias, w, `${p}.self_attn`, cfg));
  x = add(x, mlp(ln('layer_norm2', x), w, `${p}.mlp`, cfg));
  return x;
}

function selfAttention(y: Value, bias: Value, w: GraphWeights, p: string, cfg: ClipTextConfig): Value {
  const D = cfg.hiddenSize;
  const headDim = D / cfg.numHeads;
  const project = (name: string) => cast(dense(w, y, `${p}.${name}`, D, D), w.dtype);
  const o = multiHeadAttention(project('q_proj'), project('k_proj'), project('v_proj'), cfg.numHeads, headDim ** -0.5, bias);
  return dense(w, o, `${p}.out_proj`, D, D);
}

function mlp(y: Value, w: GraphWeights, p: string, cfg: ClipTextConfig): Value {
  const hidden = dense(w, y, `${p}.fc1`, cfg.intermediateSize, cfg.hiddenSize);
  const activated = cfg.activation === 'gelu' ? gelu(hidden) : quickGelu(hidden);
  return dense(w, activated, `${p}.fc2`, cfg.hiddenSize, cfg.intermediateSize);
}

/** HF's "quick_gelu": x·σ(1.702·x). */
function quickGelu(x: Value): Value {
  return mul(x, sigmoid(mul(x, 1.702)));
}

/**
 * Additive bias [batch, 1, T, T]: 0 where key j is visible from query i
 * (j ≤ i and attention_mask[j] == 1, HF's test being `1 − mask == 0`), else
 * MASKED. HF adds the causal and the padding mask separately; one value per
 * masked pair gives the same softmax.
 */
function attentionBias(mask: Value, T: number, precision: Precision): Value {
  const g = mask.graph;
  const causal = new Uint8Array(T * T);
  for (let i = 0; i < T; i++) causal.fill(1, i * T, i * T + i + 1);
  const visible = and(constant(g, causal, [1, 1, T, T], 'bool', 'causal_mask'), unsqueeze(equal(mask, 1), [1, 2]));
  const dtype = computeDType(precision);
  const masked = MASKED[dtype];
  if (masked === undefined) throw new Error(`text encoder: no attention mask value for ${dtype}`);
  return where(visible, scalar(g, 0, dtype), scalar(g, masked, dtype));
}

/**
 * `pooler_output`: the row of the first `eos` in each sequence. HF's legacy
 * rule (eos_token_id == 2 in the config) takes argmax(input_ids) instead;
 * with CLIP's vocabulary the largest id is `<|endoftext|>` and torch's
 * argmax returns the first maximum, so both pick the same position. ArgMax
 * over (ids == eos) returns the first match; a row with no eos pools at 0.
 */
function pooledAtFirstEos(hidden: Value, ids: Value, eosTokenId: number): Value {
  const D = hidden.size(-1);
  const position = unsqueeze(argMax(cast(equal(ids, eosTokenId), 'float32'), 1, true), [2]); // [batch, 1, 1]
  return squeeze(gatherElements(hidden, expand(position, [1, 1, D]), 1), [1]);
}
