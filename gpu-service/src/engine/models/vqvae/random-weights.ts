// Deterministic random stand-in weights with the real VQVAE's keys and shapes, for
// benchmarks and shape tests where the released checkpoint is not available.
// Convs ~ N(0, 1/fan_in), biases 0, GroupNorm γ = 1, β = 0, codebook ~ N(0, 1):
// activations keep a sane range through the whole decoder.
import type { StoredTensor } from '../../weights/tensors.ts';
import { TensorStore } from '../../weights/tensors.ts';
import type { VqvaeConfig } from './config.ts';
import type { VqvaeWeight } from './weights.ts';
import { vqvaeWeights } from './weights.ts';

/** mulberry32 seeded from the tensor name and the seed, so each tensor is reproducible on its own. */
function rng(name: string, seed: number): () => number {
  let s = seed >>> 0;
  for (let i = 0; i < name.length; i++) s = Math.imul(s ^ name.charCodeAt(i), 0x9e3779b1) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(name: string, seed: number, n: number, std: number): Float32Array {
  const next = rng(name, seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - next())) * std;
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

function values({ name, shape, role }: VqvaeWeight, seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  switch (role) {
    case 'codebook':
      return normal(name, seed, n, 1);
    case 'conv':
      return normal(name, seed, n, 1 / Math.sqrt(shape[1] * shape[2] * shape[3]));
    case 'gain':
      return new Float32Array(n).fill(1);
    case 'bias':
      return new Float32Array(n);
  }
}

export function randomVqvaeStore(cfg: VqvaeConfig, scales: number, seed = 0): TensorStore {
  const tensors: StoredTensor[] = vqvaeWeights(cfg, scales).map((weight) => ({
    name: weight.name,
    dtype: 'float32',
    shape: weight.shape,
    bytes: () => new Uint8Array(values(weight, seed).buffer),
  }));
  return new TensorStore(`random-vqvae(seed ${seed})`, tensors);
}
