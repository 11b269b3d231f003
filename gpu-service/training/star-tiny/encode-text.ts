// Tokenizes every caption the generator trains or is evaluated on with the
// engine's own tokenizer, and writes the text encoder stage 2 starts from:
// star-tiny's seeded random CLIP (its random twin's, STAR_TINY_RANDOM). The
// engine's CLIP graph runs it over every caption too, so that stage 2 can
// check that its PyTorch CLIP computes what the engine does before training.
//
//   node gpu-service/training/star-tiny/encode-text.ts [--data DIR]
//
// Writes <data>/initial-text-encoder/ (config.json, model.safetensors) and
// <data>/text.safetensors: ids [N, T] and mask [N, T] (cut to the
// longest caption's T: CLIP is causal and padded positions are masked out of
// cross-attention, so later positions change nothing), the engine's hidden
// [N, T, D] and pooled [N, D]; caption i is metadata.captions[i], "" first.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeRandomTextEncoder } from '../../src/engine/models/random-model.ts';
import { STAR_TINY_RANDOM } from '../../src/engine/models/star-tiny.ts';
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
  for (let b = 0; b < dataset.generatorBackgrounds.length; b++) captions.push(captionOf(emoji, b));
}

const initialTextEncoder = join(dataDir, 'initial-text-encoder');
writeRandomTextEncoder(initialTextEncoder, STAR_TINY_RANDOM);

const encoder = await TextEncoder.load({
  textEncoderDir: initialTextEncoder,
  tokenizerDir: join(modelDir, 'tokenizer'),
  device: 'cpu',
  cachedTexts: 1,
});
const D = encoder.config.hiddenSize;
const T77 = encoder.tokenizer.maxLength;
const rows: { ids: BigInt64Array; hidden: Float32Array; mask: BigInt64Array; pooled: Float32Array }[] = [];
for (const caption of captions) {
  const out = await encoder.encode([caption]);
  // Row 0 is the caption; row 1 is the unconditional "" the encoder adds.
  rows.push({
    ids: encoder.tokenizer.encodeBatch([caption]).inputIds,
    hidden: (out.hidden.data as Float32Array).slice(0, T77 * D),
    mask: (out.mask.data as BigInt64Array).slice(0, T77),
    pooled: (out.pooled.data as Float32Array).slice(0, D),
  });
}
await encoder.dispose();

const T = Math.max(...rows.map((r) => r.mask.reduce((n, m) => n + Number(m), 0)));
const N = rows.length;
const ids = new Int32Array(N * T);
const hidden = new Float32Array(N * T * D);
const mask = new Float32Array(N * T);
const pooled = new Float32Array(N * D);
rows.forEach((r, i) => {
  hidden.set(r.hidden.subarray(0, T * D), i * T * D);
  for (let t = 0; t < T; t++) {
    ids[i * T + t] = Number(r.ids[t]);
    mask[i * T + t] = Number(r.mask[t]);
  }
  pooled.set(r.pooled, i * D);
});
const bytes = (a: Float32Array | Int32Array) => () => new Uint8Array(a.buffer);
writeSafetensors(
  join(dataDir, 'text.safetensors'),
  [
    { name: 'ids', dtype: 'int32', shape: [N, T], bytes: bytes(ids) },
    { name: 'hidden', dtype: 'float32', shape: [N, T, D], bytes: bytes(hidden) },
    { name: 'mask', dtype: 'float32', shape: [N, T], bytes: bytes(mask) },
    { name: 'pooled', dtype: 'float32', shape: [N, D], bytes: bytes(pooled) },
  ],
  { captions: JSON.stringify(captions), eos_id: String(encoder.tokenizer.eosId) },
);
console.log(`${N} captions, up to ${T} tokens, width ${D} → ${join(dataDir, 'text.safetensors')}`);
