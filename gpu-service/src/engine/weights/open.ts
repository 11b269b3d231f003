// One entry point for weight files: safetensors or a torch.save checkpoint,
// chosen by content (safetensors has no zip signature), read lazily.
import { closeSync, openSync, readSync } from 'node:fs';
import { readPth } from './pth.ts';
import { readSafetensors } from './safetensors.ts';
import type { TensorStore } from './tensors.ts';

export interface OpenWeightsOptions {
  /** For .pth checkpoints: dot path of the state dict (e.g. `trainer.var_wo_ddp`). */
  key?: string;
}

export function openWeights(path: string, options: OpenWeightsOptions = {}): TensorStore {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head.readUInt32LE(0) === 0x04034b50) return readPth(path, options);
  return readSafetensors(path);
}
