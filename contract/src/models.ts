// The model catalogue: the public facts of each model (GET /v1/models, size checks, job progress).
// Sides per scale are the released configs' patch_nums (STAR-SPEC §1.2).

export interface ModelFacts {
  id: string;
  /** Output image side in pixels. */
  resolution: number;
  /** The token map's side at each scale, coarse to fine. */
  scales: readonly number[];
  description: string;
}

const SCALES_256 = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16];
const SCALES_1024 = [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64];

export const MODELS: readonly ModelFacts[] = [
  {
    id: 'star-tiny',
    resolution: 64,
    scales: [1, 2, 3, 4, 5, 6, 8],
    description: 'A tiny embedded STAR model trained on 192 emoji, for development and tests (64², 7 scales).',
  },
  { id: 'star-256-d16', resolution: 256, scales: SCALES_256, description: 'STAR 256², depth 16.' },
  { id: 'star-256-d30', resolution: 256, scales: SCALES_256, description: 'STAR 256², depth 30.' },
  { id: 'star-512-d30', resolution: 512, scales: [1, 2, 3, 4, 6, 9, 13, 18, 24, 32], description: 'STAR 512², depth 30.' },
  { id: 'star-1024-d30', resolution: 1024, scales: SCALES_1024, description: 'STAR 1024², depth 30.' },
  { id: 'star-1024-sampler', resolution: 1024, scales: SCALES_1024, description: 'STAR 1024², depth 30, with the sampler head.' },
];

export function findModel(id: string): ModelFacts | undefined {
  return MODELS.find((model) => model.id === id);
}
