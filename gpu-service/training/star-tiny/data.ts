// Stage 0 of star-tiny's training: Noto Emoji (Apache-2.0, from the npm
// package @iconify-json/noto) rasterized to 64² RGBA with sharp, split into
// the emoji the generator learns, extra emoji only the VQVAE sees, and emoji
// nobody trains on (the held-out reconstruction set), plus the captions.
//
//   node gpu-service/training/star-tiny/data.ts [--noto DIR] [--out DIR]
//
// Writes <out>/emoji.rgba (uint8 [E, 64, 64, 4]) and <out>/dataset.json. The
// choice of emoji is a seeded shuffle, so the same package version gives the
// same split on every machine.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Xoshiro128 } from '../../src/engine/random.ts';
import type { Dataset, EmojiEntry } from './dataset.ts';
import { BACKGROUNDS, GENERATOR_BACKGROUNDS, IMAGE_SIDE } from './dataset.ts';

const SEED = 20260;
/** Categories of the Noto set used; faces, animals and food are easy to name and tell apart. */
const CATEGORIES = ['Smileys & Emotion', 'Animals & Nature', 'Food & Drink'];
/** Per category: emoji the generator learns, and emoji kept out of all training. */
const GENERATOR_PER_CATEGORY = 64;
const HELD_OUT_PER_CATEGORY = 16;
/** Noto draws on a 128-unit canvas; rendering at 4× then downsizing anti-aliases edges. */
const RENDER_SIDE = 4 * IMAGE_SIDE;

interface IconSet {
  icons: Record<string, { body: string }>;
  width?: number;
  height?: number;
}

const here = import.meta.dirname;
const { values } = parseArgs({ options: { noto: { type: 'string' }, out: { type: 'string' } } });
const notoDir = resolve(values.noto ?? join(here, '.deps/node_modules/@iconify-json/noto'));
const outDir = resolve(values.out ?? join(here, 'data'));

const pkg = JSON.parse(readFileSync(join(notoDir, 'package.json'), 'utf8')) as { version: string; license: string };
if (pkg.license !== 'Apache-2.0') throw new Error(`${notoDir}: licence ${pkg.license}, expected Apache-2.0`);
const icons = JSON.parse(readFileSync(join(notoDir, 'icons.json'), 'utf8')) as IconSet;
const categories = (JSON.parse(readFileSync(join(notoDir, 'metadata.json'), 'utf8')) as { categories: Record<string, string[]> })
  .categories;

function shuffled<T>(items: T[], rng: Xoshiro128): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextUint32() % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const rng = Xoshiro128.fromSeed(SEED);
const entries: EmojiEntry[] = [];
const generator: EmojiEntry[] = [];
for (const category of CATEGORIES) {
  // Skin-tone variants repeat a shape in another colour; keep the base emoji only.
  const names = categories[category].filter((n) => icons.icons[n] && !n.includes('skin-tone')).sort();
  const order = shuffled(names, rng);
  order.forEach((name, i) => {
    const role = i < GENERATOR_PER_CATEGORY ? 'generator' : i < GENERATOR_PER_CATEGORY + HELD_OUT_PER_CATEGORY ? 'held-out' : 'vqvae';
    const entry: EmojiEntry = { name, caption: name.replaceAll('-', ' '), category, role };
    entries.push(entry);
    if (role === 'generator') generator.push(entry);
  });
}
// Generator emoji in a seeded order; emoji k never appears on background
// 1 + (k mod 6) in training: those captions are the held-out caption set.
shuffled(generator, rng).forEach((entry, k) => {
  entry.generatorIndex = k;
  entry.heldOutBackground = 1 + (k % (BACKGROUNDS.length - 1));
});

const width = icons.width ?? 16;
const height = icons.height ?? 16;
const pixels = new Uint8Array(entries.length * IMAGE_SIDE * IMAGE_SIDE * 4);
for (const [i, entry] of entries.entries()) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${RENDER_SIDE}" height="${RENDER_SIDE}" viewBox="0 0 ${width} ${height}">${icons.icons[entry.name].body}</svg>`;
  const rgba = await sharp(Buffer.from(svg)).ensureAlpha().resize(IMAGE_SIDE, IMAGE_SIDE, { kernel: 'lanczos3' }).raw().toBuffer();
  if (rgba.length !== IMAGE_SIDE * IMAGE_SIDE * 4) throw new Error(`${entry.name}: ${rgba.length} bytes rasterized`);
  pixels.set(rgba, i * rgba.length);
}

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'emoji.rgba'), pixels);
const dataset: Dataset = {
  source: {
    package: '@iconify-json/noto',
    version: pkg.version,
    license: pkg.license,
    author: 'Google Inc',
    url: 'https://github.com/googlefonts/noto-emoji',
  },
  seed: SEED,
  side: IMAGE_SIDE,
  backgrounds: BACKGROUNDS,
  generatorBackgrounds: GENERATOR_BACKGROUNDS,
  emoji: entries,
};
writeFileSync(join(outDir, 'dataset.json'), `${JSON.stringify(dataset, null, 1)}\n`);
const count = (role: string) => entries.filter((e) => e.role === role).length;
console.log(
  `${entries.length} emoji (generator ${count('generator')}, vqvae-only ${count('vqvae')}, held out ${count('held-out')}) → ${outDir}`,
);
