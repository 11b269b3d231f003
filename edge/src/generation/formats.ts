// Output formats: names, media types, URL extensions.
export type ImageFormat = 'png' | 'webp' | 'jpeg';

export const CONTENT_TYPES = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' } as const satisfies Record<ImageFormat, string>;
export const FORMAT_OF_EXTENSION: Record<string, ImageFormat> = { png: 'png', webp: 'webp', jpeg: 'jpeg', jpg: 'jpeg' };
export const FORMAT_OF_CONTENT_TYPE = { 'image/png': 'png', 'image/webp': 'webp', 'image/jpeg': 'jpeg' } as const satisfies Record<
  string,
  ImageFormat
>;
