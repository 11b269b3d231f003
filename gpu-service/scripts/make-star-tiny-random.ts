// Writes star-tiny's weights and configs (deterministically: same bytes on
// every run and machine) into gpu-service/models/star-tiny, or into the
// directory given with --out. The tokenizer folder is not touched.
//
//   node gpu-service/scripts/make-star-tiny.ts [--out DIR]
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeRandomModel } from '../src/engine/models/random-model.ts';
import { STAR_TINY } from '../src/engine/models/star-tiny.ts';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(values.out ?? join(import.meta.dirname, '../models/star-tiny'));
const written = writeRandomModel(out, STAR_TINY);
for (const rel of written) console.log(`${rel}\t${statSync(join(out, rel)).size} bytes`);
