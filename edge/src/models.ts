// The models this deployment serves. Static: the edge answers /v1/models and validates `model`
// without a GPU round trip. Sides per scale are the released configs' patch_nums (STAR-SPEC §1.2).
import type { Model } from './schemas.gen.ts';

export interface ModelInfo {
  id: string;
  resolution: number;
  scales: number[];
  description: string;
}

export const MODELS: readonly ModelInfo[] = [
  { id: 'star-tiny', resolution: 64, scales: [1, 2, 3, 4], description: 'A tiny embedded STAR model for development and tests (64², 4 scales).' },
  { id: 'star-256-d16', resolution: 256, scales: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16], description: 'STAR 256², depth 16.' },
  { id: 'star-256-d30', resolution: 256, scales: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16], description: 'STAR 256², depth 30.' },
  { id: 'star-512-d30', resolution: 512, scales: [1, 2, 3, 4, 6, 9, 13, 18, 24, 32], description: 'STAR 512², depth 30.' },
  { id: 'star-1024-d30', resolution: 1024, scales: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64], description: 'STAR 1024², depth 30.' },
  { id: 'star-1024-sampler', resolution: 1024, scales: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64], description: 'STAR 1024², depth 30, with the sampler head.' },
];

export function findModel(id: string): ModelInfo | undefined {
  return MODELS.find((model) => model.id === id);
}

export function modelList(defaultModel: string): Model[] {
  return MODELS.map((model) => ({ id: model.id, object: 'model', resolution: model.resolution, scales: [...model.scales], default: model.id === defaultModel, description: model.description }));
}
