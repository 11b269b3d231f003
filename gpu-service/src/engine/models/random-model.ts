// Model directories with seeded random weights in the real architecture:
// star-tiny's random twin (scripts/make-star-tiny-random.ts, a test fixture) and the
// bench's star-256-d16-shaped model. The tensor lists follow the upstream
// state-dict keys and shapes (STAR-SPEC §3.1, §5.1; Hugging Face's
// CLIPTextModel names), so the same loaders read them as released weights.
//
// Determinism: values come from one xoshiro128** stream per tensor seeded
// from (model seed, tensor index), and only IEEE basic arithmetic is used
// (uniform draws scaled to the wanted standard deviation; no log/sin/cos),
// so every machine writes the same bytes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UpstreamBuildArgs } from './generator/config.ts';
import type { ModelManifest } from './registry.ts';
import { MANIFEST_FILE } from './registry.ts';
import type { UpstreamVqvaeArgs } from './vqvae/config.ts';
import { fromUpstream } from './vqvae/config.ts';
import type { VqvaeWeightRole } from './vqvae/weights.ts';
import { vqvaeWeights } from './vqvae/weights.ts';
import { Xoshiro128 } from '../random.ts';
import { writeSafetensors } from '../weights/safetensors.ts';

/** How a tensor is initialised: uniform with this mean and standard deviation. */
interface Init {
  mean: number;
  std: number;
}

export interface RandomTensor {
  name: string;
  shape: number[];
  init: Init;
}

const LN4 = 1.3862943611198906; // ln 4: the per-head logit scale upstream starts from
const W = (fanIn: number): Init => ({ mean: 0, std: 1 / Math.sqrt(fanIn) });
const BIAS: Init = { mean: 0, std: 0.05 };
const ZERO: Init = { mean: 0, std: 0 };
const EMBED: Init = { mean: 0, std: 0.3 };
const GAIN: Init = { mean: 1, std: 0.1 };
const HEAD_SCALE: Init = { mean: LN4, std: 0.15 };

const HEAD_DIM = 64;
const NUM_CLASSES = 1000;

/** The generator state dict (STAR-SPEC §3.1) for upstream build args. */
export function generatorTensors(args: UpstreamBuildArgs): RandomTensor[] {
  const C = HEAD_DIM * args.depth;
  const H = args.depth;
  const S = args.patch_nums.length;
  const D = args.in_dim_cross;
  const t: RandomTensor[] = [];
  const add = (name: string, shape: number[], init: Init) => t.push({ name, shape, init });
  add('pos_start', [1, 1, C], EMBED);
  add('class_emb.weight', [NUM_CLASSES + 1, C], EMBED);
  add('word_embed.weight', [C, args.Cvae], W(args.Cvae));
  add('word_embed.bias', [C], BIAS);
  add('encoder_proj.weight', [C, D], W(D));
  add('encoder_proj.bias', [C], BIAS);
  add('lvl_embed.weight', [S, C], EMBED);
  const attention = (p: string) => {
    add(`${p}.attn.scale_mul_1H11`, [1, H, 1, 1], HEAD_SCALE);
    add(`${p}.attn.q_bias`, [C], BIAS);
    add(`${p}.attn.v_bias`, [C], BIAS);
    add(`${p}.attn.zero_k_bias`, [C], ZERO);
    add(`${p}.attn.mat_qkv.weight`, [3 * C, C], W(C));
    add(`${p}.attn.proj.weight`, [C, C], W(C));
    add(`${p}.attn.proj.bias`, [C], BIAS);
  };
  const ffn = (p: string) => {
    add(`${p}.ffn.fc1.weight`, [4 * C, C], W(C));
    add(`${p}.ffn.fc1.bias`, [4 * C], BIAS);
    add(`${p}.ffn.fc2.weight`, [C, 4 * C], W(4 * C));
    add(`${p}.ffn.fc2.bias`, [C], BIAS);
  };
  for (let i = 0; i < args.depth; i++) {
    const p = `blocks.${i}`;
    attention(p);
    add(`${p}.cross_attn.scale_mul_1H11`, [1, H, 1, 1], HEAD_SCALE);
    add(`${p}.cross_attn.q_bias`, [C], BIAS);
    add(`${p}.cross_attn.v_bias`, [C], BIAS);
    add(`${p}.cross_attn.zero_k_bias`, [C], ZERO);
    add(`${p}.cross_attn.mat_q.weight`, [C, C], W(C));
    add(`${p}.cross_attn.mat_kv.weight`, [2 * C, D], W(D));
    add(`${p}.cross_attn.proj.weight`, [C, C], W(C));
    add(`${p}.cross_attn.proj.bias`, [C], BIAS);
    ffn(p);
  }
  add('head_logits.weight', [args.V, C], W(C));
  add('head_logits.bias', [args.V], BIAS);
  if (args.enable_adaptive_norm) {
    add('word_embed_head.weight', [C, args.Cvae], W(args.Cvae));
    add('word_embed_head.bias', [C], BIAS);
    add('encoder_proj2.weight', [C, D], W(D));
    add('encoder_proj2.bias', [C], BIAS);
    add('pos_start_last', [1, 1, C], EMBED);
    add('lvl_embed_2.weight', [S, C], EMBED);
    add('head_proj.weight', [C, 2 * C], W(2 * C));
    add('head_proj.bias', [C], BIAS);
    for (let i = 0; i < 3; i++) {
      attention(`feat_extract_blocks.${i}`);
      ffn(`feat_extract_blocks.${i}`);
    }
    add('head_logits2.weight', [args.V, C], W(C));
    add('head_logits2.bias', [args.V], BIAS);
  }
  return t;
}

/** The VQVAE tensors inference reads (vqvae/weights.ts's layout), initialised by role. */
export function vqvaeTensors(args: UpstreamVqvaeArgs, scales: number): RandomTensor[] {
  const init: Record<VqvaeWeightRole, (shape: number[]) => Init> = {
    codebook: () => ({ mean: 0, std: 1 }),
    conv: (shape) => W(shape[1] * shape[2] * shape[3]),
    bias: () => BIAS,
    gain: () => GAIN,
  };
  return vqvaeWeights(fromUpstream(args), scales).map(({ name, shape, role }) => ({ name, shape, init: init[role](shape) }));
}

/** Hugging Face CLIPTextConfig fields for a random text encoder. */
export interface ClipTextArgs {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
}

export function clipTextConfigJson(args: ClipTextArgs): Record<string, unknown> {
  return {
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    torch_dtype: 'float32',
    ...args,
    projection_dim: args.hidden_size,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    attention_dropout: 0,
    dropout: 0,
    initializer_range: 0.02,
    initializer_factor: 1,
  };
}

/** HF CLIPTextModel state dict (`text_model.` prefix). */
export function clipTextTensors(args: ClipTextArgs): RandomTensor[] {
  const D = args.hidden_size;
  const F = args.intermediate_size;
  const t: RandomTensor[] = [];
  const add = (name: string, shape: number[], init: Init) => t.push({ name: `text_model.${name}`, shape, init });
  const linear = (p: string, out: number, inp: number) => {
    add(`${p}.weight`, [out, inp], W(inp));
    add(`${p}.bias`, [out], BIAS);
  };
  const norm = (p: string) => {
    add(`${p}.weight`, [D], { mean: 1, std: 0.2 });
    add(`${p}.bias`, [D], BIAS);
  };
  add('embeddings.token_embedding.weight', [args.vocab_size, D], { mean: 0, std: 0.5 });
  add('embeddings.position_embedding.weight', [args.max_position_embeddings, D], { mean: 0, std: 0.5 });
  for (let i = 0; i < args.num_hidden_layers; i++) {
    const p = `encoder.layers.${i}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${p}.self_attn.${proj}`, D, D);
    norm(`${p}.layer_norm1`);
    linear(`${p}.mlp.fc1`, F, D);
    linear(`${p}.mlp.fc2`, D, F);
    norm(`${p}.layer_norm2`);
  }
  norm('final_layer_norm');
  return t;
}

/** fp32 bytes of a tensor: uniform on mean ± √3·std (that std), from its own stream. */
export function randomBytes(tensor: RandomTensor, seed: number): Uint8Array {
  const n = tensor.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const { mean, std } = tensor.init;
  if (std === 0) return new Uint8Array(out.fill(mean).buffer);
  const rng = Xoshiro128.fromSeed(seed >>> 0);
  const halfWidth = Math.sqrt(3) * std;
  for (let i = 0; i < n; i++) out[i] = mean + (2 * rng.nextUniform() - 1) * halfWidth;
  return new Uint8Array(out.buffer);
}

/** Writes `tensors` as fp32 safetensors; tensor i draws from seed (baseSeed · 1_000_003 + i) mod 2³². */
export function writeRandomSafetensors(path: string, tensors: RandomTensor[], baseSeed: number): void {
  writeSafetensors(
    path,
    tensors.map((t, i) => ({
      name: t.name,
      dtype: 'float32' as const,
      shape: t.shape,
      bytes: () => randomBytes(t, (Math.imul(baseSeed, 1_000_003) + i) >>> 0),
    })),
    { generator: 'star-api random-model', seed: String(baseSeed) },
  );
}

export interface RandomModelSpec {
  manifest: ModelManifest;
  clip: ClipTextArgs;
  seed: number;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Writes a complete model directory with random weights: model.json,
 * generator and VQVAE safetensors, text_encoder/. The tokenizer folder is
 * not written (star-tiny ships its own; callers copy or point at one).
 * Returns the paths written, relative to `dir`.
 */
export function writeRandomModel(dir: string, spec: RandomModelSpec): string[] {
  const { manifest, seed } = spec;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MANIFEST_FILE), json(manifest));
  writeRandomSafetensors(join(dir, manifest.generator.weights), generatorTensors(manifest.generator.build_vae_var_args), seed);
  const scales = manifest.generator.build_vae_var_args.patch_nums.length;
  writeRandomSafetensors(join(dir, manifest.vqvae.weights), vqvaeTensors(manifest.vqvae.args, scales), seed + 1);
  const text = writeRandomTextEncoder(join(dir, manifest.text_encoder.dir), spec);
  return [MANIFEST_FILE, manifest.generator.weights, manifest.vqvae.weights, ...text.map((f) => join(manifest.text_encoder.dir, f))];
}

/** The text encoder folder of writeRandomModel alone (config.json, model.safetensors); returns the files written. */
export function writeRandomTextEncoder(dir: string, spec: Pick<RandomModelSpec, 'clip' | 'seed'>): string[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), json(clipTextConfigJson(spec.clip)));
  writeRandomSafetensors(join(dir, 'model.safetensors'), clipTextTensors(spec.clip), spec.seed + 2);
  return ['config.json', 'model.safetensors'];
}
