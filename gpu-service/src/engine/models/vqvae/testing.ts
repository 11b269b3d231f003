// Test helpers for the VQVAE parity tests: fixture loading and error measures.
import { readFileSync } from 'node:fs';
import type { RuntimeTensor } from '../../onnx/runtime.ts';
import { fixturePath } from '../../testing/fixtures.ts';
import { readSafetensors } from '../../weights/safetensors.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import type { VqvaeConfig } from './config.ts';
import { fromUpstream } from './config.ts';

export interface VqvaeFixture {
  name: string;
  cfg: VqvaeConfig;
  patchNums: number[];
  phiIndexPerScale: number[];
  phiTicks: number[];
  vae: TensorStore;
  ref: TensorStore;
}

export function loadFixture(name: string): VqvaeFixture {
  const dir = fixturePath(`star-tiny/${name}`);
  const config = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
  return {
    name,
    cfg: fromUpstream(config.derived.vqvae),
    patchNums: config.build_vae_var_args.patch_nums,
    phiIndexPerScale: config.derived.phi_index_per_scale,
    phiTicks: config.derived.vqvae.phi_ticks,
    vae: readSafetensors(`${dir}/vae.safetensors`),
    ref: readSafetensors(`${dir}/reference.safetensors`),
  };
}

export interface Deviation {
  maxAbs: number;
  maxRef: number;
}

export function deviation(actual: ArrayLike<number>, expected: ArrayLike<number>): Deviation {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs reference ${expected.length}`);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (Number.isNaN(d))
      maxAbs = Infinity; // a NaN is a failure, never hidden
    else if (d > maxAbs) maxAbs = d;
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return { maxAbs, maxRef };
}

/** The fixtures' tolerance: atol × max(1, max |reference|). */
export function withinTolerance(d: Deviation, atol: number): boolean {
  return d.maxAbs <= atol * Math.max(1, d.maxRef);
}

export function floats(t: RuntimeTensor): Float32Array {
  return t.data as Float32Array;
}
