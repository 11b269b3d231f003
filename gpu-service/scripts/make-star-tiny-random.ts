// Writes star-tiny's random-weight twin (deterministically: same bytes on
// every run and machine) into DIR: model.json, generator and VQVAE weights,
// and text_encoder/ — the text encoder star-tiny's training starts from
// (gpu-service/training/star-tiny). The tokenizer folder is not written.
//
//   node gpu-service/scripts/make-star-tiny-random.ts --out DIR
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeRandomModel } from '../src/engine/models/random-model.ts';
import { STAR_TINY_RANDOM } from '../src/engine/models/star-tiny.ts';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
if (!values.out) {
  console.error('usage: node gpu-service/scripts/make-star-tiny-random.ts --out DIR');
  process.exit(2);
}
const out = resolve(values.out);
const written = writeRandomModel(out, STAR_TINY_RANDOM);
for (const rel of written) console.log(`${rel}\t${statSync(join(out, rel)).size} bytes`);
