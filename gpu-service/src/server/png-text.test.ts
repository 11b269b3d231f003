import assert from 'node:assert/strict';
import { it } from 'node:test';
import sharp from 'sharp';
import { insertPngText, readPngText } from './png-text.ts';

it('inserts tEXt chunks that decoders accept and that read back unchanged', async () => {
  const png = await sharp(Buffer.alloc(4 * 4 * 3, 200), { raw: { width: 4, height: 4, channels: 3 } })
    .png()
    .toBuffer();
  const tagged = insertPngText(png, { seed: '42', parameters: '{"prompt":"a fox"}' });
  assert.deepEqual(readPngText(tagged), { seed: '42', parameters: '{"prompt":"a fox"}' });
  // libpng (through sharp) verifies every chunk's CRC; a wrong one fails the decode.
  const { data, info } = await sharp(tagged).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 4);
  assert.equal(data[0], 200);
});

it('escapes text outside Latin-1 printable instead of corrupting the chunk', () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108020000009077530e', 'hex');
  const tagged = insertPngText(png, { prompt: 'renard — 🦊' });
  assert.equal(readPngText(tagged).prompt, 'renard \\u2014 \\ud83e\\udd8a');
});

it('refuses input that is not a PNG', () => {
  assert.throws(() => insertPngText(Buffer.from('GIF89a'), { a: 'b' }), /not a PNG/);
});
