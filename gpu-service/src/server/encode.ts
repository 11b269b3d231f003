// Image encoding: RGB from the engine → PNG (with the generation parameters in
// tEXt), WebP, JPEG via sharp, or the raw RGB bytes for the edge to encode.
import sharp from 'sharp';
import type { RgbImage } from '../engine/types.ts';
import type { OutputFormat } from '@star-api/contract';
import { insertPngText } from './png-text.ts';

export interface GenerationParameters {
  model: string;
  prompt: string;
  negative_prompt: string;
  seed: number;
  cfg: number;
  top_k: number;
  top_p: number;
  more_smooth: boolean;
}

function fromRaw(image: RgbImage) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

/** `parameters` go into a PNG's tEXt chunks; `false` (the request's png_metadata) leaves them out. */
export async function encodeImage(image: RgbImage, format: OutputFormat, parameters?: GenerationParameters | false): Promise<Buffer> {
  switch (format) {
    case 'rgb':
      return Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    case 'webp':
      return fromRaw(image).webp({ quality: 90 }).toBuffer();
    case 'jpeg':
      return fromRaw(image).jpeg({ quality: 90, mozjpeg: true }).toBuffer();
    case 'png': {
      const png = await fromRaw(image).png().toBuffer();
      if (!parameters) return png;
      // Keys follow the common "parameters"-in-tEXt habit plus one key per field for tools.
      return insertPngText(png, {
        Software: 'star-api',
        parameters: JSON.stringify(parameters),
        seed: String(parameters.seed),
        model: parameters.model,
      });
    }
  }
}

/** Progress previews: small, PNG, no metadata. */
export async function encodePreview(image: RgbImage): Promise<string> {
  return (await fromRaw(image).png({ compressionLevel: 1 }).toBuffer()).toString('base64');
}
