// The image store: image bytes by content key, one read path and one write path for generations,
// render URLs, image downloads and jobs alike. Adapter: the Cache API in front of R2 (cache-r2.ts).
import type { ImageFormat } from '../../generation/formats.ts';

export interface ImageMeta {
  key: string;
  format: ImageFormat;
  seed: number;
  width: number;
  height: number;
  /** '' when the copy read carries no model (the Cache API's). */
  model: string;
  size: number;
}

export interface StoredImage extends ImageMeta {
  bytes?: Uint8Array;
}

export interface ImageStore {
  /** The image, with its bytes when asked for; null when it is not stored. */
  find(key: string, format: ImageFormat, withBytes: boolean): Promise<StoredImage | null>;
  /** Stores complete, validated images; none is written before all are in hand. A key never
   *  changes meaning, so writing one again is harmless. `owner`: the key id of a private image. */
  put(images: (ImageMeta & { bytes: Uint8Array })[], owner?: string): Promise<void>;
  /** A stored image by key alone (a content key names one format): its format and private owner. */
  findKey(key: string): Promise<{ format: ImageFormat; owner?: string } | null>;
  delete(key: string, format: ImageFormat): Promise<void>;
}
