// GPU memory for /metrics. onnxruntime-node does not report device memory, so
// on CUDA the scrape asks nvidia-smi (the NVIDIA container runtime mounts it
// into GPU containers). Any failure just leaves the gauge out.
import { execFile } from 'node:child_process';

export interface GpuMemory {
  gpu: string;
  usedBytes: number;
  totalBytes: number;
}

const MIB = 1024 * 1024;

/** Parses `nvidia-smi --query-gpu=index,memory.used,memory.total --format=csv,noheader,nounits` (MiB). */
export function parseNvidiaSmi(csv: string): GpuMemory[] {
  return csv
    .trim()
    .split('\n')
    .map((line) => line.split(',').map((field) => field.trim()))
    .filter((fields) => fields.length === 3 && fields.every((field) => /^\d+$/.test(field)))
    .map(([gpu, used, total]) => ({ gpu, usedBytes: Number(used) * MIB, totalBytes: Number(total) * MIB }));
}

export function readGpuMemory(): Promise<GpuMemory[]> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=index,memory.used,memory.total', '--format=csv,noheader,nounits'], { timeout: 2000 }, (error, stdout) =>
      resolve(error ? [] : parseNvidiaSmi(stdout)),
    );
  });
}
