// star-tiny draws what it is asked for: the trained weights, run by the real
// engine, measured on pictures and captions that no training step saw
// (gpu-service/training/star-tiny/eval/heldout.{safetensors,json}, written
// by the training tool's export.py; its README says how they were chosen).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BACKGROUNDS, composite } from '../../../training/star-tiny/dataset.ts';
import { Graph } from '../onnx/graph.ts';
import { Session, tensor } from '../onnx/runtime.ts';
import { toModelBytes } from '../onnx/serialize.ts';
import { loadModel, loadPipeline } from '../pipeline.ts';
import type { Pipeline, RgbImage } from '../types.ts';
import { readSafetensors } from '../weights/safetensors.ts';
import { vqvaeQuantizer } from './generator/quantizer.ts';
import { buildDecoderGraph, DECODER_INPUT, DECODER_OUTPUT } from './vqvae/decoder.ts';

const EVAL_DIR = join(import.meta.dirname, '../../../training/star-tiny/eval');
const SIDE = 64;
const PIXELS = SIDE * SIDE;
/** Seeds per prompt: 192 images per CFG weight, so that one image moves a figure by half a point and no bar hangs on a single draw. */
const SEEDS = [1, 2, 3, 4];
/** Pictures are compared as 16×16 averages: the layout and colours of a picture, not its last pixel. */
const POOL = 4;

const heldout = readSafetensors(join(EVAL_DIR, 'heldout.safetensors'));
const { prompts } = JSON.parse(readFileSync(join(EVAL_DIR, 'heldout.json'), 'utf8')) as {
  prompts: { caption: string; background: number }[];
};
const cacheDir = mkdtempSync(join(tmpdir(), 'star-tiny-quality-'));
let pipeline: Pipeline;
before(async () => {
  pipeline = await loadPipeline('star-tiny', { device: 'cpu', threads: 2, cacheDir, mode: 'all' });
});
after(async () => {
  await pipeline?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

function rgbaOf(name: string, i: number): Uint8Array {
  const all = heldout.get(name).bytes();
  return all.subarray(i * PIXELS * 4, (i + 1) * PIXELS * 4);
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / Math.max(se / a.length, 1e-10));
}

function pooled(rgb: Uint8Array): Float64Array {
  const side = SIDE / POOL;
  const out = new Float64Array(side * side * 3);
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE; x++)
      for (let c = 0; c < 3; c++) {
        out[(Math.floor(y / POOL) * side + Math.floor(x / POOL)) * 3 + c] += rgb[(y * SIDE + x) * 3 + c] / (POOL * POOL);
      }
  return out;
}

function distance(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += (a[i] - b[i]) ** 2;
  return d;
}

/** Every held-out caption's images (SEEDS) at one CFG weight, as the engine makes them. */
async function generateAll(cfg: number): Promise<RgbImage[][]> {
  const results = await Promise.all(
    pipeline.generateBatch(
      prompts.map((p) => ({
        request: { prompt: p.caption, seeds: SEEDS, cfg, top_k: 0, top_p: 0.8, more_smooth: false },
      })),
    ),
  );
  return results.map((r) => r.images);
}

/** Fraction of images whose nearest reference, among every eval emoji on the prompt's background, is the prompt's own emoji. */
function emojiAccuracy(images: RgbImage[][]): number {
  let hits = 0;
  images.forEach((group, i) => {
    const references = prompts.map((_, j) => pooled(composite(rgbaOf('prompts.rgba', j), prompts[i].background)));
    for (const image of group) {
      const mine = pooled(image.data);
      const nearest = references.reduce((best, ref, j) => (distance(mine, ref) < distance(mine, references[best]) ? j : best), 0);
      if (nearest === i) hits++;
    }
  });
  return hits / (prompts.length * SEEDS.length);
}

/** Fraction of images whose 4-pixel frame is nearest in mean colour to the background the caption names. */
function backgroundAccuracy(images: RgbImage[][]): number {
  let hits = 0;
  images.forEach((group, i) => {
    for (const image of group) {
      const mean = [0, 0, 0];
      let n = 0;
      for (let y = 0; y < SIDE; y++)
        for (let x = 0; x < SIDE; x++) {
          if (x >= 4 && x < SIDE - 4 && y >= 4 && y < SIDE - 4) continue;
          for (let c = 0; c < 3; c++) mean[c] += image.data[(y * SIDE + x) * 3 + c];
          n++;
        }
      const d = (rgb: number[]) => rgb.reduce((sum, v, c) => sum + (v - mean[c] / n) ** 2, 0);
      const nearest = BACKGROUNDS.reduce((best, b, k) => (d(b.rgb) < d(BACKGROUNDS[best].rgb) ? k : best), 0);
      if (nearest === prompts[i].background) hits++;
    }
  });
  return hits / (prompts.length * SEEDS.length);
}

/** Mean PSNR of the held-out emoji on every background, from the trained encoder's tokens through the engine's quantizer and decoder. */
async function reconstructionPsnr(): Promise<number> {
  const model = loadModel('star-tiny');
  const { generatorConfig: gen, vqvaeConfig: vq, vqvaeWeights: vae } = model;
  const [emoji, backgrounds, L] = heldout.get('psnr.tokens').shape;
  const B = emoji * backgrounds;
  // Tokens → f_hat with the same quantizer steps generation uses (φ, bicubic up, §5.3).
  const g = new Graph('star-tiny-reconstruction');
  const quantizer = vqvaeQuantizer(vae, vq, gen.patchNums);
  let fHat = null;
  for (const [si, pn] of gen.patchNums.entries())
    fHat = quantizer.addScale(g, si, g.input(`tokens.s${si}`, 'int64', [B, pn * pn]), fHat).fHat;
  g.output(fHat!, 'f_hat');
  const quantize = await Session.create(toModelBytes(g), { device: 'cpu', threads: 2 });
  const decoder = await Session.create(toModelBytes(buildDecoderGraph(vae, vq, { precision: 'fp32' })), { device: 'cpu', threads: 2 });
  const all = new Int32Array(heldout.get('psnr.tokens').bytes().slice().buffer);
  const feeds: Record<string, ReturnType<typeof tensor>> = {};
  let at = 0;
  for (const [si, pn] of gen.patchNums.entries()) {
    const n = pn * pn;
    const ids = new BigInt64Array(B * n);
    for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) ids[b * n + t] = BigInt(all[b * L + at + t]);
    feeds[`tokens.s${si}`] = tensor('int64', ids, [B, n]);
    at += n;
  }
  assert.equal(at, L, 'token count matches the scale schedule');
  const { f_hat } = await quantize.run(feeds);
  const images = (await decoder.run({ [DECODER_INPUT]: f_hat }))[DECODER_OUTPUT].data as Uint8Array;
  await quantize.dispose();
  await decoder.dispose();
  let sum = 0;
  for (let e = 0; e < emoji; e++)
    for (let bg = 0; bg < backgrounds; bg++) {
      const row = e * backgrounds + bg;
      sum += psnr(images.subarray(row * PIXELS * 3, (row + 1) * PIXELS * 3), composite(rgbaOf('psnr.rgba', e), bg));
    }
  const mean = sum / B;
  console.log(`star-tiny VQVAE: mean PSNR ${mean.toFixed(2)} dB over ${emoji} held-out emoji × ${backgrounds} backgrounds`);
  return mean;
}

describe('star-tiny (trained) on held-out data', () => {
  let reconstruction: Promise<number>;
  let guided: Promise<RgbImage[][]>;
  let unguided: Promise<RgbImage[][]>;
  before(() => {
    reconstruction = reconstructionPsnr();
    guided = generateAll(4);
    unguided = guided.then(() => generateAll(0));
  });

  it("reconstructs emoji it never saw at ≥ 22 dB PSNR through the engine's quantizer and decoder", async () => {
    const mean = await reconstruction;
    assert.ok(mean >= 22, `mean PSNR ${mean.toFixed(2)} dB < 22 dB`);
  });

  it('paints the background a held-out caption names in ≥ 85 % of images at CFG 4 (chance: 1 in 7)', async () => {
    const [withCfg, without] = [backgroundAccuracy(await guided), backgroundAccuracy(await unguided)];
    console.log(
      `star-tiny prompts: background named in the caption ${(withCfg * 100).toFixed(1)} % at CFG 4, ${(without * 100).toFixed(1)} % at CFG 0 (chance ${(100 / BACKGROUNDS.length).toFixed(1)} %)`,
    );
    assert.ok(withCfg >= 0.85, `background accuracy at CFG 4 ${withCfg} < 0.85`);
  });

  it("draws held-out captions closer to their own emoji than to the others' in ≥ 70 % of images at CFG 4, 5 points more than at CFG 0 (chance: 1 in 48)", async () => {
    const [withCfg, without] = [emojiAccuracy(await guided), emojiAccuracy(await unguided)];
    console.log(
      `star-tiny prompts: nearest-reference emoji ${(withCfg * 100).toFixed(1)} % at CFG 4, ${(without * 100).toFixed(1)} % at CFG 0 (${prompts.length} held-out captions × ${SEEDS.length} seeds, chance ${(100 / prompts.length).toFixed(1)} %)`,
    );
    assert.ok(withCfg >= 0.7, `emoji accuracy at CFG 4 ${withCfg} < 0.7`);
    assert.ok(withCfg >= without + 0.05, `CFG 4 (${withCfg}) does not beat CFG 0 (${without}) by 5 points`);
  });
});
