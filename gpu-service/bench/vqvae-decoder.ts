// VQVAE decoder speed with the released VQVAE's shapes (ch 160, random weights):
// seconds per decode and achieved GFLOP/s at a given latent side, batch and thread count.
//   node gpu-service/bench/vqvae-decoder.ts [--side 16] [--batch 1] [--threads 2] [--runs 3] [--fused]
//        [--arena off|on|off,on] [--pattern on|off|on,off] [--upstream] [--json FILE]
// --upstream also times the decoder as upstream runs it (PyTorch fp32: upstream-decoder.py,
// needing python3 with torch; STAR_PYTHON names another interpreter), one of its decodes after
// each round of ours, and prints upstream's time ÷ ours per round (npm run bench sets it
// against issue 15's target). --json writes every variant's times (and upstream's).
// Session options default to the pipeline's decoder on CPU (arena off, memory pattern on);
// lists open one session per combination and interleave their runs, so the ratios
// against the first compare configurations under the same load. Run it with the
// Dockerfile's malloc settings (malloc.ts; npm run bench does) to time what the service runs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RELEASED_VQVAE_ARGS, STAR_VQVAE } from '../src/engine/models/vqvae/config.ts';
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
    arena: { type: 'string', default: 'off' },
    pattern: { type: 'string', default: 'on' },
    upstream: { type: 'boolean', default: false },
    json: { type: 'string' },
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
    for (const memoryPattern of onOffList(values.pattern)) {
      const session = await Session.create(modelPath, { device: 'cpu', threads, memoryArena, memoryPattern });
      variants.push({ name: `arena ${onOff(memoryArena)}, pattern ${onOff(memoryPattern)}`, session, times: [] });
    }
  }
  const upstream = values.upstream ? await upstreamDecoder() : null;
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
    if (upstream) upstream.times.push((await upstream.decode()) / 1000);
  }
  upstream?.close();
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
  if (upstream) {
    const ours = variants[0].times;
    const speedUps = upstream.times.map((t, r) => t / ours[r]).sort((a, b) => a - b);
    const median = speedUps[speedUps.length >> 1];
    console.log(
      `  upstream (PyTorch ${upstream.version}, fp32): decode best ${Math.min(...upstream.times).toFixed(3)} s (runs: ${upstream.times.map((t) => t.toFixed(3)).join(', ')})`,
    );
    console.log(
      `  upstream ÷ ours (${variants[0].name}), per round: ${speedUps.map((x) => x.toFixed(2)).join(', ')}×; median ${median.toFixed(2)}×`,
    );
  }
  console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (all sessions)`);
  if (values.json) {
    const result = {
      side,
      batch,
      threads,
      variants: variants.map((v) => ({ name: v.name, seconds: v.times })),
      upstream: upstream && { version: upstream.version, seconds: upstream.times },
    };
    writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** upstream-decoder.py as a child that decodes once per line it is sent; resolves when it has warmed up. */
async function upstreamDecoder() {
  const python = process.env.STAR_PYTHON ?? 'python3';
  const spec = { args: RELEASED_VQVAE_ARGS, side, batch, threads };
  const child = spawn(python, [join(import.meta.dirname, 'upstream-decoder.py'), JSON.stringify(spec)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await lines.next();
    if (line.done)
      throw new Error(`${python} upstream-decoder.py ended early (it needs python3 with torch; STAR_PYTHON names another interpreter)`);
    return line.value;
  };
  const [ready, version] = (await next()).split(' ');
  if (ready !== 'ready') throw new Error(`upstream-decoder.py: expected "ready", got "${ready}"`);
  return {
    version,
    times: [] as number[],
    decode: async () => {
      child.stdin.write('\n');
      return Number(await next());
    },
    close: () => child.stdin.end(),
  };
}
