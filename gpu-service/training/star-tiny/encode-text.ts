// Runs star-tiny's frozen text encoder (the engine's own CLIP graph and
// tokenizer) over every caption the generator trains or is evaluated on,
// so PyTorch trains against exactly the text features inference feeds it.
//
//   node gpu-service/training/star-tiny/encode-text.ts [--data DIR]
//
// Writes <data>/text.safetensors: hidden [N, T, D] (cut to the longest
// caption's T: padded positions are masked out of cross-attention anyway),
// mask [N, T], pooled [N, D]; caption i is metadata.captions[i], "" first.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TextEncoder } from '../../src/engine/models/text-encoder/text-encoder.ts';
import { writeSafetensors } from '../../src/engine/weights/safetensors.ts';
import type { Dataset } from './dataset.ts';
import { captionOf } from './dataset.ts';

const here = import.meta.dirname;
const { values } = parseArgs({ options: { data: { type: 'string' } } });
const dataDir = resolve(values.data ?? join(here, 'data'));
const modelDir = join(here, '../../models/star-tiny');

const dataset = JSON.parse(readFileSync(join(dataDir, 'dataset.json'), 'utf8')) as Dataset;
const captions = [''];
for (const emoji of dataset.emoji.filter((e) => e.role === 'generator')) {
  for (let b = 0; b < dataset.backgrounds.length; b++) captions.push(captionOf(emoji, b));
}

const encoder = await TextEncoder.load({
  textEncoderDir: join(modelDir, 'text_encoder'),
  tokenizerDir: join(modelDir, 'tokenizer'),
  device: 'cpu',
  cachedTexts: 1,
});
const D = encoder.config.hiddenSize;
const T77 = encoder.tokenizer.maxLength;
const rows: { hidden: Float32Array; mask: BigInt64Array; pooled: Float32Array }[] = [];
for (const caption of captions) {
  const out = await encoder.encode([caption]);
  // Row 0 is the caption; row 1 is the unconditional "" the encoder adds.
  rows.push({
    hidden: (out.hidden.data as Float32Array).slice(0, T77 * D),
    mask: (out.mask.data as BigInt64Array).slice(0, T77),
    pooled: (out.pooled.data as Float32Array).slice(0, D),
  });
}
await encoder.dispose();

const T = Math.max(...rows.map((r) => r.mask.reduce((n, m) => n + Number(m), 0)));
const N = rows.length;
const hidden = new Float32Array(N * T * D);
const mask = new Float32Array(N * T);
const pooled = new Float32Array(N * D);
rows.forEach((r, i) => {
  hidden.set(r.hidden.subarray(0, T * D), i * T * D);
  for (let t = 0; t < T; t++) mask[i * T + t] = Number(r.mask[t]);
  pooled.set(r.pooled, i * D);
});
const bytes = (a: Float32Array) => () => new Uint8Array(a.buffer);
writeSafetensors(
  join(dataDir, 'text.safetensors'),
  [
    { name: 'hidden', dtype: 'float32', shape: [N, T, D], bytes: bytes(hidden) },
    { name: 'mask', dtype: 'float32', shape: [N, T], bytes: bytes(mask) },
    { name: 'pooled', dtype: 'float32', shape: [N, D], bytes: bytes(pooled) },
  ],
  { captions: JSON.stringify(captions) },
);
console.log(`${N} captions, up to ${T} tokens, width ${D} → ${join(dataDir, 'text.safetensors')}`);
