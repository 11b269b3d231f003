// VQVAE decoder speed with the released VQVAE's shapes (ch 160, random weights):
// seconds per decode and achieved GFLOP/s at a given latent side, batch and thread count.
//   node gpu-service/bench/vqvae-decoder.ts [--side 16] [--batch 1] [--threads 2] [--runs 3] [--fused]
//        [--arena off|on|off,on] [--pattern on|off|on,off]
// Session options default to the pipeline's decoder on CPU (decoderSessionOptions, arena
// off); lists open one session per combination and interleave their runs, so the ratios
// against the first compare configurations under the same load. Run it with the
// Dockerfile's malloc settings (MALLOC_MMAP_THRESHOLD_=131072
// GLIBC_TUNABLES=glibc.malloc.hugetlb=1) to time what the service runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { STAR_VQVAE } from '../src/engine/models/vqvae/config.ts';
import { buildDecoderGraph, DECODER_INPUT } from '../src/engine/models/vqvae/decoder.ts';
import { decoderSessionOptions } from '../src/engine/models/vqvae/decoder-session.ts';
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
    arena: { type: 'string', default: 'off' },
    pattern: { type: 'string' },
  },
});
const side = Number(values.side);
const batch = Number(values.batch);
const threads = Number(values.threads);
const runs = Number(values.runs);
const onOffList = (list: string) => list.split(',').map((v) => v === 'on');
const onOff = (on: boolean) => (on ? 'on' : 'off');

const dir = mkdtempSync(join(tmpdir(), 'star-vqvae-bench-'));
try {
  const t0 = performance.now();
  const { modelPath } = cachedModel(
    { bench: 'vqvae-decoder', fused: values.fused },
    () => buildDecoderGraph(randomVqvaeStore(STAR_VQVAE, 10), STAR_VQVAE, { precision: 'fp32', fusedAttention: values.fused }),
    dir,
  );
  const variants: { name: string; session: Session; times: number[] }[] = [];
  for (const memoryArena of onOffList(values.arena)) {
    const options = decoderSessionOptions({ device: 'cpu', threads, memoryArena });
    for (const memoryPattern of values.pattern ? onOffList(values.pattern) : [options.memoryPattern ?? true]) {
      const session = await Session.create(modelPath, { ...options, memoryPattern });
      variants.push({ name: `arena ${onOff(memoryArena)}, pattern ${onOff(memoryPattern)}`, session, times: [] });
    }
  }
  const t1 = performance.now();
  const fHat = new Float32Array(batch * STAR_VQVAE.cvae * side * side).map((_, i) => Math.sin(i * 0.61));
  const feeds = { [DECODER_INPUT]: tensor('float32', fHat, [batch, STAR_VQVAE.cvae, side, side]) };
  for (const v of variants) await v.session.run(feeds); // warm-up
  for (let r = 0; r < runs; r++) {
    for (const v of variants) {
      const s = performance.now();
      await v.session.run(feeds);
      v.times.push((performance.now() - s) / 1000);
    }
  }
  for (const v of variants) await v.session.dispose();
  const gflop = decoderFlops(STAR_VQVAE, side, batch) / 1e9;
  console.log(
    `vqvae decoder ch=${STAR_VQVAE.ch} latent ${side}² → ${side * 16}² image, batch ${batch}, ${threads} threads${values.fused ? ', fused attention' : ''}; build+load ${((t1 - t0) / 1000).toFixed(1)} s`,
  );
  const baseline = Math.min(...variants[0].times);
  for (const v of variants) {
    const best = Math.min(...v.times);
    console.log(
      `  ${v.name}: decode best ${best.toFixed(3)} s (runs: ${v.times.map((t) => t.toFixed(3)).join(', ')}); ${gflop.toFixed(1)} GFLOP → ${(gflop / best).toFixed(0)} GFLOP/s; ${(best / baseline).toFixed(2)}× the first`,
    );
  }
  console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (all sessions)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
