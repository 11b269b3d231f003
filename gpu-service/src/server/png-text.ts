// PNG tEXt chunks (PNG spec §11.3.4.3). sharp writes no tEXt, so the generation
// parameters are inserted into sharp's output right after IHDR.
import { crc32 } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  typeAndData.copy(out, 4);
  out.writeUInt32BE(crc32(typeAndData), 8 + data.length);
  return out;
}

/** Keywords are 1–79 Latin-1 characters; text is Latin-1, so anything else goes in as \uXXXX escapes (valid inside JSON strings). */
function textChunk(keyword: string, text: string): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new Error(`invalid PNG tEXt keyword "${keyword}"`);
  // Per UTF-16 code unit (no `u` flag), so astral characters become surrogate-pair escapes.
  const latin1 = text.replace(/[^\x20-\x7e\n]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return chunk('tEXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(latin1, 'latin1')]));
}

export function insertPngText(png: Buffer, entries: Record<string, string>): Buffer {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  const ihdrLength = png.readUInt32BE(8);
  const afterIhdr = 8 + 8 + ihdrLength + 4;
  const chunks = Object.entries(entries).map(([keyword, text]) => textChunk(keyword, text));
  return Buffer.concat([png.subarray(0, afterIhdr), ...chunks, png.subarray(afterIhdr)]);
}

/** Reads every tEXt chunk back (tests, tools). */
export function readPngText(png: Buffer): Record<string, string> {
  const entries: Record<string, string> = {};
  let offset = 8;
  while (offset + 8 <= png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    if (type === 'tEXt') {
      const data = png.subarray(offset + 8, offset + 8 + length);
      const nul = data.indexOf(0);
      entries[data.toString('latin1', 0, nul)] = data.toString('latin1', nul + 1);
    }
    offset += 12 + length;
  }
  return entries;
}
