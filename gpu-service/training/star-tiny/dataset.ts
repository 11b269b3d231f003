// The star-tiny emoji dataset's shape: which emoji, which backgrounds, and
// how an (emoji, background) pair becomes a caption and a picture. data.ts
// writes it; encode-text.ts, the PyTorch trainers and the quality test read it.

export const IMAGE_SIDE = 64;

export interface Background {
  /** The colour word in captions ("" for the plain white default). */
  name: string;
  rgb: [number, number, number];
}

/** Index 0 is the default white background; the others are named in the caption. */
export const BACKGROUNDS: Background[] = [
  { name: '', rgb: [255, 255, 255] },
  { name: 'red', rgb: [215, 48, 39] },
  { name: 'orange', rgb: [245, 140, 30] },
  { name: 'yellow', rgb: [250, 215, 60] },
  { name: 'green', rgb: [50, 160, 70] },
  { name: 'blue', rgb: [40, 95, 215] },
  { name: 'purple', rgb: [135, 70, 185] },
];

/**
 * The generator trains on these too, named in captions like the six above, and on random flat
 * colours captioned by the nearest of these names (train_generator.py `--random-backgrounds`):
 * each emoji on many backgrounds instead of 6, so that what an emoji looks like and what its
 * background is must be learnt apart rather than one (emoji, background) picture by heart.
 * Only BACKGROUNDS are evaluated, the VQVAE trains on them and random flat colours.
 */
export const GENERATOR_BACKGROUNDS: Background[] = [
  ...BACKGROUNDS,
  { name: 'pink', rgb: [240, 130, 170] },
  { name: 'brown', rgb: [130, 80, 40] },
  { name: 'gray', rgb: [128, 128, 128] },
  { name: 'black', rgb: [30, 30, 30] },
  { name: 'teal', rgb: [0, 128, 128] },
  { name: 'navy', rgb: [20, 30, 110] },
  { name: 'lime', rgb: [150, 220, 50] },
  { name: 'cyan', rgb: [60, 200, 220] },
  { name: 'magenta', rgb: [200, 40, 160] },
  { name: 'maroon', rgb: [120, 20, 40] },
  { name: 'olive', rgb: [120, 120, 30] },
  { name: 'beige', rgb: [230, 215, 170] },
];

export interface EmojiEntry {
  /** Noto icon name, e.g. "red-apple". */
  name: string;
  /** The name in words, e.g. "red apple". */
  caption: string;
  category: string;
  /** generator: both stages train on it; vqvae: only the VQVAE; held-out: no training at all. */
  role: 'generator' | 'vqvae' | 'held-out';
  /** Generator emoji only: position in the seeded order, and the background never trained with it. */
  generatorIndex?: number;
  heldOutBackground?: number;
}

export interface Dataset {
  source: { package: string; version: string; license: string; author: string; url: string };
  seed: number;
  side: number;
  backgrounds: Background[];
  /** BACKGROUNDS first (same indices), then the generator's own. */
  generatorBackgrounds: Background[];
  emoji: EmojiEntry[];
}

/** "red apple" on white, "red apple on a blue background" otherwise. */
export function captionOf(emoji: { caption: string }, background: number): string {
  const colour = GENERATOR_BACKGROUNDS[background].name;
  return colour ? `${emoji.caption} on a ${colour} background` : emoji.caption;
}

/** RGBA [side², 4] over a flat colour → RGB [side², 3] (straight alpha, rounded). */
export function composite(rgba: Uint8Array, background: number): Uint8Array {
  const [r, g, b] = BACKGROUNDS[background].rgb;
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    const a = rgba[p + 3] / 255;
    out[q] = Math.round(rgba[p] * a + r * (1 - a));
    out[q + 1] = Math.round(rgba[p + 1] * a + g * (1 - a));
    out[q + 2] = Math.round(rgba[p + 2] * a + b * (1 - a));
  }
  return out;
}
