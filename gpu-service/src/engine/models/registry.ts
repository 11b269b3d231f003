// The models the engine knows (STAR-SPEC §1) and the on-disk model directory
// format every one of them uses:
//
//   <dir>/model.json          this file's `ModelManifest`
//   <dir>/<generator weights> .pth (state dict at `key`) or .safetensors
//   <dir>/<vqvae weights>     .pth (plain state dict) or .safetensors
//   <dir>/text_encoder/       HF CLIPTextModel: config.json + model.safetensors
//   <dir>/tokenizer/          HF CLIPTokenizer: vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json
//   <dir>/checksums.json      sha256 of every downloaded file (written by fetch-model)
//
// The generator and VQVAE configs are stored in upstream's own argument
// form (build_vae_var keyword arguments; VQVAE constructor arguments), so a
// model directory reads like the upstream scripts that built it.
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { SampleVersion, UpstreamBuildArgs } from './generator/config.ts';
import type { UpstreamVqvaeArgs } from './vqvae/config.ts';

export const MANIFEST_FILE = 'model.json';
export const MANIFEST_FORMAT = 1;

export interface ModelManifest {
  format: number;
  name: string;
  /** Output image side in pixels. */
  resolution: number;
  description?: string;
  generator: {
    /** File name relative to the model directory. */
    weights: string;
    /** Dot path of the state dict inside a .pth training snapshot (STAR-SPEC §1.2). */
    key?: string;
    build_vae_var_args: UpstreamBuildArgs;
    sample_version: SampleVersion;
  };
  vqvae: {
    weights: string;
    args: UpstreamVqvaeArgs;
  };
  text_encoder: {
    /** HF CLIPTextModel folder (config.json + model.safetensors). */
    dir: string;
    /** HF CLIPTokenizer folder. */
    tokenizer: string;
  };
  /** Sampling defaults the model was evaluated with (informative; requests carry their own). */
  sampling?: { cfg: number; top_k: number; top_p: number };
}

// ---------------------------------------------------------------- released models

/** Where to fetch one file: tried in order, the first that answers wins. */
export interface RemoteSource {
  /** Hugging Face repository (owner/name). */
  repo: string;
  /** Path inside the repository. */
  path: string;
  revision?: string;
}

export interface RemoteFile {
  /** Path inside the model directory. */
  target: string;
  sources: RemoteSource[];
  /** Known sha256; when absent the first download records it in checksums.json. */
  sha256?: string;
  /** Why the name is a best guess (STAR-SPEC §8), shown when every source fails. */
  uncertain?: string;
}

export const STAR_HF_REPO = 'taocrayon/STAR';
export const SD21_HF_REPO = 'stabilityai/stable-diffusion-2-1';

/** Patch numbers per resolution (STAR-SPEC §1.2). */
export const PATCH_NUMS = {
  256: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16],
  512: [1, 2, 3, 4, 6, 9, 13, 18, 24, 32],
  1024: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64],
} as const;

/** Values every released generator shares (STAR-SPEC §1.1). */
const RELEASED_GENERATOR_ARGS = {
  V: 4096,
  Cvae: 32,
  ch: 160,
  share_quant_resi: 4,
  shared_aln: false,
  attn_l2_norm: true,
  enable_cross: true,
  in_dim_cross: 1024,
  rope_emb: true,
  lvl_emb: true,
  rope_norm: 64,
  rope_theta: 10000,
  enable_logit_norm: true,
  sample_from_idx: 9,
};

/** VAR's tokenizer `vae_ch160v4096z32.pth` (STAR-SPEC §1.1). */
export const RELEASED_VQVAE_ARGS: UpstreamVqvaeArgs = {
  vocab_size: 4096, z_channels: 32, ch: 160, ch_mult: [1, 1, 2, 2, 4], num_res_blocks: 2,
  quant_resi: 0.5, share_quant_resi: 4, using_sa: true, using_mid_sa: true,
};

const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];
const CLIP_UNCERTAIN = 'STAR-SPEC §1.2/§8: the HF repo\'s CLIP/ folder is assumed to be SD-2.1\'s text encoder; stable-diffusion-2-1 is the fallback';

/** The text encoder and tokenizer: STAR's CLIP/ folder first, SD-2.1's folders as the fallback. */
function clipFiles(): RemoteFile[] {
  const file = (sub: 'text_encoder' | 'tokenizer', name: string): RemoteFile => ({
    target: `${sub}/${name}`,
    sources: [{ repo: STAR_HF_REPO, path: `CLIP/${sub}/${name}` }, { repo: SD21_HF_REPO, path: `${sub}/${name}` }],
    uncertain: CLIP_UNCERTAIN,
  });
  return [file('text_encoder', 'config.json'), file('text_encoder', 'model.safetensors'), ...TOKENIZER_FILES.map((n) => file('tokenizer', n))];
}

export interface ReleasedModel {
  name: string;
  description: string;
  resolution: 256 | 512 | 1024;
  depth: number;
  samplerHead: boolean;
  /** Generator checkpoint file name in the HF repo (best guesses marked `uncertain`). */
  checkpoint: { path: string; uncertain?: string };
  sampling: { cfg: number; top_k: number; top_p: number };
}

const README_SAMPLING = { cfg: 4.0, top_k: 4096, top_p: 0.8 };

/** STAR-SPEC §1.2. Checkpoint names are data: fix them here when the HF listing says otherwise. */
export const RELEASED_MODELS: readonly ReleasedModel[] = [
  {
    name: 'star-256-d16', description: 'STAR 256², depth 16 (C 1024, 16 heads)', resolution: 256, depth: 16, samplerHead: false,
    checkpoint: { path: 'var_rope_d16_theta_modified_anorm-ar-ckpt-ep7-iter0.pth', uncertain: 'STAR-SPEC §1.2: the d16 file name on Hugging Face is unknown; this is the eval scripts\' training-run name' },
    sampling: README_SAMPLING,
  },
  {
    name: 'star-256-d30', description: 'STAR 256², depth 30 (C 1920, 30 heads)', resolution: 256, depth: 30, samplerHead: false,
    checkpoint: { path: 'star_rope_d30_256-ar-ckpt-ep3-iter20000.pth', uncertain: 'STAR-SPEC §1.2: name from a third-party script' },
    sampling: README_SAMPLING,
  },
  {
    name: 'star-512-d30', description: 'STAR 512², depth 30', resolution: 512, depth: 30, samplerHead: false,
    checkpoint: { path: 'star_rope_d30_512-ar-ckpt-ep1-iter30000.pth', uncertain: 'STAR-SPEC §1.2: name from third-party scripts' },
    sampling: README_SAMPLING,
  },
  {
    name: 'star-1024-d30', description: 'STAR 1024², depth 30, 14 scales', resolution: 1024, depth: 30, samplerHead: false,
    checkpoint: { path: 'star_rope_d30_1024_drop_3-ar-ckpt-ep1-iter21000.pth', uncertain: 'STAR-SPEC §1.2: name from a third-party README' },
    sampling: README_SAMPLING,
  },
  {
    name: 'star-1024-sampler', description: 'STAR 1024² with the causal-driven stable sampler head', resolution: 1024, depth: 30, samplerHead: true,
    checkpoint: { path: 'var_rope_d30_1024_sampler_mask_0108-ar-ckpt-ep2-iter6000.pth', uncertain: 'STAR-SPEC §1.2/§8: the demo\'s name; the public repo may not include the sampler' },
    sampling: { cfg: 4.0, top_k: 600, top_p: 0.8 },
  },
];

export const VQVAE_FILE: RemoteFile = {
  target: 'vae_ch160v4096z32.pth',
  sources: [{ repo: 'FoundationVision/var', path: 'vae_ch160v4096z32.pth' }, { repo: STAR_HF_REPO, path: 'vae_ch160v4096z32.pth' }],
};

export function releasedModel(name: string): ReleasedModel {
  const m = RELEASED_MODELS.find((r) => r.name === name);
  if (!m) throw new Error(`unknown model "${name}"; known: ${[...RELEASED_MODELS.map((r) => r.name), TINY_MODEL_NAME].join(', ')}`);
  return m;
}

/** The manifest fetch-model writes for a released model. */
export function releasedManifest(m: ReleasedModel): ModelManifest {
  return {
    format: MANIFEST_FORMAT,
    name: m.name,
    resolution: m.resolution,
    description: m.description,
    generator: {
      weights: basename(m.checkpoint.path),
      key: 'trainer.var_wo_ddp',
      build_vae_var_args: { ...RELEASED_GENERATOR_ARGS, depth: m.depth, patch_nums: [...PATCH_NUMS[m.resolution]], enable_adaptive_norm: m.samplerHead },
      sample_version: '1024',
    },
    vqvae: { weights: VQVAE_FILE.target, args: RELEASED_VQVAE_ARGS },
    text_encoder: { dir: 'text_encoder', tokenizer: 'tokenizer' },
    sampling: m.sampling,
  };
}

/** Every file fetch-model downloads for a released model. */
export function releasedFiles(m: ReleasedModel): RemoteFile[] {
  return [
    { target: basename(m.checkpoint.path), sources: [{ repo: STAR_HF_REPO, path: m.checkpoint.path }], uncertain: m.checkpoint.uncertain },
    VQVAE_FILE,
    ...clipFiles(),
  ];
}

// ---------------------------------------------------------------- lookup

export const TINY_MODEL_NAME = 'star-tiny';

/** Models shipped inside the repository (star-tiny). */
export const BUILTIN_MODELS_DIR = resolve(import.meta.dirname, '../../../models');

export function defaultModelsDir(): string {
  return resolve(process.env.STAR_MODELS_DIR ?? BUILTIN_MODELS_DIR);
}

/**
 * Resolves a model name or directory to a directory holding model.json:
 * a path (absolute, or containing a slash, or an existing directory) is used
 * as is; a name is looked up in `modelDir`, then $STAR_MODELS_DIR, then the
 * models shipped in the repository.
 */
export function resolveModelDir(nameOrDir: string, modelDir?: string): string {
  const looksLikePath = isAbsolute(nameOrDir) || nameOrDir.includes('/') || nameOrDir.startsWith('.');
  if (looksLikePath) {
    const dir = resolve(nameOrDir);
    if (!existsSync(join(dir, MANIFEST_FILE))) throw new Error(`${dir} is not a model directory (no ${MANIFEST_FILE})`);
    return dir;
  }
  const candidates = [modelDir, process.env.STAR_MODELS_DIR, BUILTIN_MODELS_DIR].filter((d): d is string => !!d).map((d) => join(resolve(d), nameOrDir));
  for (const dir of candidates) if (existsSync(join(dir, MANIFEST_FILE))) return dir;
  const known = RELEASED_MODELS.some((m) => m.name === nameOrDir);
  const hint = known ? `; download it with \`npx star fetch-model ${nameOrDir}\`` : `; known models: ${[TINY_MODEL_NAME, ...RELEASED_MODELS.map((m) => m.name)].join(', ')}`;
  throw new Error(`model "${nameOrDir}" not found in ${candidates.join(', ')}${hint}`);
}

export function readManifest(dir: string): ModelManifest {
  const path = join(dir, MANIFEST_FILE);
  let m: ModelManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
  const problems: string[] = [];
  if (m.format !== MANIFEST_FORMAT) problems.push(`format ${m.format} (expected ${MANIFEST_FORMAT})`);
  if (typeof m.name !== 'string') problems.push('name missing');
  if (!Number.isInteger(m.resolution)) problems.push('resolution missing');
  if (typeof m.generator?.weights !== 'string' || typeof m.generator?.build_vae_var_args !== 'object') problems.push('generator.weights / generator.build_vae_var_args missing');
  if (typeof m.vqvae?.weights !== 'string' || typeof m.vqvae?.args !== 'object') problems.push('vqvae.weights / vqvae.args missing');
  if (typeof m.text_encoder?.dir !== 'string' || typeof m.text_encoder?.tokenizer !== 'string') problems.push('text_encoder.dir / text_encoder.tokenizer missing');
  if (problems.length) throw new Error(`${path}: ${problems.join('; ')}`);
  return m;
}
