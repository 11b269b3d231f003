// star-tiny: the real STAR architecture at toy sizes, with seeded random
// weights (untrained: its images are coloured noise). It ships in the repo
// (gpu-service/models/star-tiny, written by scripts/make-star-tiny.ts) so
// every part of the product runs on a fresh machine with no download.
//
//   generator  depth 2 (C 128, 2 heads), patch nums 1,2,3,4, V 256, Cvae 16
//   VQVAE      ch 32, ch_mult 1,1,1,1,2 (×16: 4² latent → 64² image), 1+1 ResBlocks per level
//   text       CLIP text model, hidden 64, 2 layers, 4 heads, the 2048-id tokenizer in tokenizer/
import type { ClipTextArgs, RandomModelSpec } from './random-model.ts';
import type { ModelManifest } from './registry.ts';
import { MANIFEST_FORMAT, TINY_MODEL_NAME } from './registry.ts';

export const STAR_TINY_SEED = 20241;

const PATCH_NUMS = [1, 2, 3, 4];
const VOCAB = 256;
const CVAE = 16;
const TEXT_DIM = 64;
/** The star-tiny tokenizer (gpu-service/models/star-tiny/tokenizer): 2048 ids, BOS 2046, EOS 2047, pad "!" = 0. */
const TOKENIZER_VOCAB = 2048;

export const STAR_TINY_MANIFEST: ModelManifest = {
  format: MANIFEST_FORMAT,
  name: TINY_MODEL_NAME,
  resolution: PATCH_NUMS[PATCH_NUMS.length - 1] * 16,
  description: 'STAR architecture at toy size with untrained random weights (images are noise); for tests and fresh machines',
  generator: {
    weights: 'var.safetensors',
    build_vae_var_args: {
      patch_nums: PATCH_NUMS, V: VOCAB, Cvae: CVAE, depth: 2, in_dim_cross: TEXT_DIM,
      shared_aln: false, attn_l2_norm: true, enable_cross: true, rope_emb: true, lvl_emb: true,
      rope_norm: 64, rope_theta: 10000, enable_logit_norm: true, enable_adaptive_norm: false, sample_from_idx: 9,
    },
    sample_version: '1024',
  },
  vqvae: {
    weights: 'vae.safetensors',
    args: {
      vocab_size: VOCAB, z_channels: CVAE, ch: 32, ch_mult: [1, 1, 1, 1, 2], num_res_blocks: 1,
      quant_resi: 0.5, share_quant_resi: 4, using_sa: true, using_mid_sa: true,
    },
  },
  text_encoder: { dir: 'text_encoder', tokenizer: 'tokenizer' },
  sampling: { cfg: 4, top_k: 0, top_p: 0.8 },
};

export const STAR_TINY_CLIP: ClipTextArgs = {
  vocab_size: TOKENIZER_VOCAB, hidden_size: TEXT_DIM, intermediate_size: 4 * TEXT_DIM, num_hidden_layers: 2,
  num_attention_heads: 4, max_position_embeddings: 77, bos_token_id: TOKENIZER_VOCAB - 2, eos_token_id: TOKENIZER_VOCAB - 1, pad_token_id: 0,
};

export const STAR_TINY: RandomModelSpec = { manifest: STAR_TINY_MANIFEST, clip: STAR_TINY_CLIP, seed: STAR_TINY_SEED };
