// VQVAE decoder speed with the released VQVAE's shapes (ch 160, random weights):
// seconds per decode and achieved GFLOP/s at a given latent side, batch and thread count.
//   node gpu-service/bench/vqvae-decoder.ts [--side 16] [--batch 1] [--threads 2] [--runs 3] [--fused]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { STAR_VQVAE } from '../src/engine/models/vqvae/config.ts';
import { buildDecoderGraph, DECODER_INPUT } from '../src/engine/models/vqvae/decoder.ts';
import { randomVqvaeStore } from '../src/engine/models/vqvae/random-weights.ts';
import { cachedModel } from '../src/engine/onnx/cache.ts';
import { Session, tensor } from '../src/engine/onnx/runtime.ts';
import { decoderFlops } from './flops.ts';

const { values } = parseArgs({
  options: {
    side: { type: 'string', default: '16' },
    batch: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    fused: { type: 'boolean', default: false },
  },
});
const side = Number(values.side);
const batch = Number(values.batch);
const threads = Number(values.threads);
const runs = Number(values.runs);

const dir = mkdtempSync(join(tmpdir(), 'star-vqvae-bench-'));
try {
  const t0 = performance.now();
  const { modelPath } = cachedModel(
    { bench: 'vqvae-decoder', fused: values.fused },
    () => buildDecoderGraph(randomVqvaeStore(STAR_VQVAE, 10), STAR_VQVAE, { precision: 'fp32', fusedAttention: values.fused }),
    dir,
  );
  const session = await Session.create(modelPath, { device: 'cpu', threads });
  const t1 = performance.now();
  const fHat = new Float32Array(batch * STAR_VQVAE.cvae * side * side).map((_, i) => Math.sin(i * 0.61));
  const feeds = { [DECODER_INPUT]: tensor('float32', fHat, [batch, STAR_VQVAE.cvae, side, side]) };
  await session.run(feeds); // warm-up
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const s = performance.now();
    await session.run(feeds);
    times.push((performance.now() - s) / 1000);
  }
  await session.dispose();
  const best = Math.min(...times);
  const gflop = decoderFlops(STAR_VQVAE, side, batch) / 1e9;
  console.log(
    `vqvae decoder ch=${STAR_VQVAE.ch} latent ${side}² → ${side * 16}² image, batch ${batch}, ${threads} threads${values.fused ? ', fused attention' : ''}`,
  );
  console.log(
    `  build+load ${((t1 - t0) / 1000).toFixed(1)} s; decode best ${best.toFixed(3)} s (runs: ${times.map((t) => t.toFixed(3)).join(', ')}); ${gflop.toFixed(1)} GFLOP → ${(gflop / best).toFixed(0)} GFLOP/s; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
