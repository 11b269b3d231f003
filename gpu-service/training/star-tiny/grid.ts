// The figure in the README: star-tiny's pictures for held-out captions,
// made by the engine exactly as `npm start` serves them.
//
//   node gpu-service/training/star-tiny/grid.ts [--out docs/star-tiny-grid.png]
//
// One column per caption (the first COLUMNS of eval/heldout.json's held-out
// captions): the emoji it names on that background (what the caption asks
// for, never trained on as such), then SEEDS images at CFG 4, then the same
// seeds at CFG 0. Images are scaled ×2 with nearest neighbour.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { imageSeeds } from '@star-api/contract';
import sharp from 'sharp';
import { loadPipeline } from '../../src/engine/pipeline.ts';
import { readSafetensors } from '../../src/engine/weights/safetensors.ts';
import { composite, IMAGE_SIDE } from './dataset.ts';

const COLUMNS = 12;
const SEEDS = 3;
const CFGS = [4, 0];
const ZOOM = 2;
const GAP = 4;

const here = import.meta.dirname;
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(values.out ?? join(here, '../../../docs/star-tiny-grid.png'));
const { prompts } = JSON.parse(readFileSync(join(here, 'eval/heldout.json'), 'utf8')) as {
  prompts: { caption: string; background: number }[];
};
const rgba = readSafetensors(join(here, 'eval/heldout.safetensors')).get('prompts.rgba').bytes();
const pixels = IMAGE_SIDE * IMAGE_SIDE;

const pipeline = await loadPipeline('star-tiny', { device: 'cpu', threads: 2, mode: 'all' });
const columns: Uint8Array[][] = [];
for (const [i, p] of prompts.slice(0, COLUMNS).entries()) {
  const column = [composite(rgba.subarray(i * pixels * 4, (i + 1) * pixels * 4), p.background)];
  for (const cfg of CFGS) {
    const result = await pipeline.generate({
      prompt: p.caption,
      seeds: imageSeeds(1, SEEDS),
      cfg,
      top_k: 0,
      top_p: 0.8,
      more_smooth: false,
    });
    column.push(...result.images.map((image) => image.data));
  }
  columns.push(column);
  console.log(`${i + 1}. ${p.caption}`);
}
await pipeline.dispose();

const cell = IMAGE_SIDE * ZOOM + GAP;
const rows = columns[0].length;
const tiles = await Promise.all(
  columns.flatMap((column, c) =>
    column.map(async (rgb, r) => ({
      input: await sharp(rgb, { raw: { width: IMAGE_SIDE, height: IMAGE_SIDE, channels: 3 } })
        .resize(IMAGE_SIDE * ZOOM, IMAGE_SIDE * ZOOM, { kernel: 'nearest' })
        .png()
        .toBuffer(),
      left: GAP + c * cell,
      // A wider gap after the reference row and between the two CFG blocks.
      top: GAP + r * cell + (r >= 1 ? 2 * GAP : 0) + (r >= 1 + SEEDS ? 2 * GAP : 0),
    })),
  ),
);
await sharp({
  create: { width: GAP + columns.length * cell, height: GAP + rows * cell + 4 * GAP, channels: 3, background: { r: 255, g: 255, b: 255 } },
})
  .composite(tiles)
  .png()
  .toFile(out);
console.log(`→ ${out}`);
