// GPU memory, for /metrics and for the engine's memory plan at start
// (engine/memory-plan.ts). onnxruntime-node does not report device memory, so
// on CUDA we ask nvidia-smi (the NVIDIA container runtime mounts it into GPU
// containers). Any failure gives no reading: the gauge is left out, and the
// engine opens sessions for every batch size as on CPU.
import { execFile } from 'node:child_process';

export interface GpuMemory {
  gpu: string;
  usedBytes: number;
  freeBytes: number;
  totalBytes: number;
}

const MIB = 1024 * 1024;

/** Parses `nvidia-smi --query-gpu=index,memory.used,memory.free,memory.total --format=csv,noheader,nounits` (MiB). */
export function parseNvidiaSmi(csv: string): GpuMemory[] {
  return csv
    .trim()
    .split('\n')
    .map((line) => line.split(',').map((field) => field.trim()))
    .filter((fields) => fields.length === 4 && fields.every((field) => /^\d+$/.test(field)))
    .map(([gpu, used, free, total]) => ({
      gpu,
      usedBytes: Number(used) * MIB,
      freeBytes: Number(free) * MIB,
      totalBytes: Number(total) * MIB,
    }));
}

export function readGpuMemory(): Promise<GpuMemory[]> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=index,memory.used,memory.free,memory.total', '--format=csv,noheader,nounits'],
      { timeout: 2000 },
      (error, stdout) => resolve(error ? [] : parseNvidiaSmi(stdout)),
    );
  });
}
