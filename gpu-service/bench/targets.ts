// Issue 15's targets for the engine, as ratios from one bench run: what gpu-service/bench/engine.ts
// prints beside its figures and what the root bench report (bench/parse.ts) checks.

/** int8 as a ratio of fp32 (same model, mode and batch): s/image, and the weights' mapped memory. */
export const INT8_TARGETS = { secondsPerImage: 0.4, weightMemory: 0.35 };

/** The d16-shaped model in fp32: time over the floor at batch 1, and the per-image speed-up of
 *  batch 4 (its time ≤ 0.7× batch 1's). */
export const FP32_TARGETS = { overFloor: 1.25, batch4SpeedUp: 1 / 0.7 };

/** The VQVAE decoder: upstream PyTorch's time ÷ ours. */
export const DECODER_UPSTREAM_TARGET = 2;
