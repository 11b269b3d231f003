// One entry point for weight files: safetensors or a torch.save checkpoint
// (.pth, .bin), chosen by content, never by file name, read lazily.
import { closeSync, openSync, readSync } from 'node:fs';
import { readPth } from './pth.ts';
import { readSafetensors } from './safetensors.ts';
import type { TensorStore } from './tensors.ts';

export interface OpenWeightsOptions {
  /** For .pth checkpoints: dot path of the state dict (e.g. `trainer.var_wo_ddp`). */
  key?: string;
}

/** A zip local-file header: torch.save's default format since PyTorch 1.6. */
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/**
 * torch.save's legacy format (`_use_new_zipfile_serialization=False`, and
 * every file from before 1.6) starts with a pickle of torch's magic number
 * 0x1950a86a20f9469cfc6c: PROTO n, then LONG1 with 10 little-endian bytes.
 */
const LEGACY_TORCH_MAGIC = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

export function openWeights(path: string, options: OpenWeightsOptions = {}): TensorStore {
  const head = Buffer.alloc(2 + LEGACY_TORCH_MAGIC.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (startsWith(head, ZIP_MAGIC)) return readPth(path, options);
  if (head[0] === 0x80 && startsWith(head.subarray(2), LEGACY_TORCH_MAGIC)) {
    throw new Error(
      `${path}: legacy torch.save format is not readable; re-save with torch.save's default (zip) format, e.g. torch.save(torch.load(old), new)`,
    );
  }
  return readSafetensors(path);
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}
