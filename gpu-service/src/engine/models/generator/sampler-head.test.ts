import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Graph } from '../../onnx/graph.ts';
import { dense, GraphWeights } from '../../onnx/graph-weights.ts';
import { gather, transpose } from '../../onnx/ops.ts';
import type { RuntimeTensor } from '../../onnx/runtime.ts';
import { Session, tensor } from '../../onnx/runtime.ts';
import { toModelBytes } from '../../onnx/serialize.ts';
import type { Precision } from '../../onnx/target.ts';
import { fixturePath } from '../../testing/fixtures.ts';
import { readSafetensors } from '../../weights/safetensors.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import { norm } from './blocks.ts';
import { BatchNoise, noisePlan } from '../../random.ts';
import { fromUpstream as vqvaeFromUpstream } from '../vqvae/config.ts';
import { fromUpstreamArgs } from './config.ts';
import { buildGeneratorGraph } from './generator.ts';
import { vqvaeQuantizer } from './quantizer.ts';
import {
  createSamplerPath,
  fill,
  maskSchedule,
  POSITION_NOISE_STEPS,
  positionNoiseReference,
  samplerNoisePlan,
  samplerScale,
  samplerStepCount,
  samplerSteps,
  topkIndexMismatches,
} from './sampler-head.ts';

test('the mask schedule reproduces STAR-SPEC §4.5 for every listed pn', () => {
  const table: [number, number, number[]][] = [
    [16, 8, [1, 18, 26, 32, 38, 43, 48, 50]],
    [21, 8, [1, 31, 44, 55, 65, 74, 82, 89]],
    [27, 8, [1, 51, 74, 91, 107, 122, 135, 148]],
    [36, 8, [1, 91, 131, 162, 190, 216, 241, 264]],
    [48, 8, [1, 162, 232, 289, 338, 384, 428, 470]],
    [64, 15, [1, 106, 151, 186, 216, 243, 268, 292, 314, 336, 357, 377, 397, 417, 435]],
    [64, 8, [1, 288, 413, 513, 601, 683, 761, 836]],
    [4, 8, [1, 1, 2, 2, 2, 3, 3, 2]], // tiny-a's s3.schedule
  ];
  for (const [pn, steps, expected] of table) {
    const k = maskSchedule(pn, steps);
    assert.deepEqual(k, expected, `pn ${pn}, ${steps} steps`);
    assert.equal(
      k.reduce((s, x) => s + x, 0),
      pn * pn,
    );
  }
  assert.throws(() => maskSchedule(3, 8), /8 steps cannot fill a 3×3 map/);
});

test('sample_version 1024: 15 steps above si 12, VAR-head branch for steps < 5 below si 13', () => {
  assert.equal(samplerStepCount('1024', 12), 8);
  assert.equal(samplerStepCount('1024', 13), 15);
  assert.equal(samplerStepCount('new', 13), 8);
  const at9 = samplerSteps('1024', 9, 21);
  assert.deepEqual(
    at9.map((s) => s.branch),
    ['var-head', 'var-head', 'var-head', 'var-head', 'var-head', 'sampler-head', 'sampler-head', 'sampler-head'],
  );
  assert.deepEqual(
    at9.map((s) => s.positionNoise),
    [true, true, true, true, true, false, false, false],
  );
  const at13 = samplerSteps('1024', 13, 64);
  assert.equal(at13.length, 15);
  assert.ok(at13.every((s) => s.branch === 'sampler-head'));
  assert.equal(at13.filter((s) => s.positionNoise).length, 5);
  assert.ok(samplerSteps('new', 9, 21).every((s) => s.branch === 'sampler-head'));
});

test('fill commits the top-k positions, lower index on ties, never overwriting a filled one', async () => {
  const g = new Graph('fill');
  const N = 6;
  const s1 = g.input('s1', 'float32', [1, N]);
  const s2 = g.input('s2', 'float32', [1, N]);
  const c1 = g.input('c1', 'int64', [1, N]);
  const c2 = g.input('c2', 'int64', [1, N]);
  const first = fill(null, s1, 2, c1);
  const second = fill(first, s2, 3, c2);
  g.output(second.filled, 'filled');
  g.output(second.tokens, 'tokens');
  const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
  const f32 = (v: number[]) => tensor('float32', Float32Array.from(v), [1, N]);
  const i64 = (v: number[]) => tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, N]);
  const out = await session.run({
    s1: f32([0.1, 0.9, 0.5, 0.9, 0.2, 0.0]), // tie at 0.9 → positions 1 and 3
    s2: f32([0.0, 0.8, 0.3, 0.3, 0.3, 0.1]), // 1 again (no-op), then 2 and 3 win the tie over 4; 3 is already filled
    c1: i64([10, 11, 12, 13, 14, 15]),
    c2: i64([20, 21, 22, 23, 24, 25]),
  });
  assert.deepEqual([...(out.filled.data as Float32Array)], [0, 1, 1, 1, 0, 0]);
  assert.deepEqual([...(out.tokens.data as BigInt64Array)], [0n, 11n, 22n, 13n, 0n, 0n]);
  await session.dispose();
});

test('TopK positions compare exactly where the score is positive and loosely among tied zeros', () => {
  const score = Float32Array.from([0.5, 0, 0.2, 0]); // one row, N = 4; positions 1 and 3 already filled
  const want = BigInt64Array.from([0n, 2n, 1n]);
  assert.equal(topkIndexMismatches(BigInt64Array.from([0n, 2n, 3n]), want, score, 1), 0);
  assert.equal(topkIndexMismatches(BigInt64Array.from([2n, 0n, 1n]), want, score, 1), 2);
  assert.equal(topkIndexMismatches(BigInt64Array.from([0n, 2n, 2n]), want, score, 1), 1);
  assert.equal(positionNoiseReference('position_noise.s12.k4'), 's12.k4.mask_rand');
  assert.equal(positionNoiseReference('noise.s12.k4'), undefined);
});

// ---------------------------------------------------------------- tiny-a's masked path (s3.k*)

const fixture = fixturePath('star-tiny/tiny-a');

/**
 * Builds the sampler path of tiny-a's last scale on the recorded main-stack
 * output, teacher-forced with in.tokens.s3 and replaying mask_rand as the
 * position noise, and exposes every s3.k* tensor the fixture records.
 */
async function runTinyASamplerScale(
  precision: Precision = 'fp32',
): Promise<{ out: Record<string, RuntimeTensor>; ref: TensorStore; names: string[] }> {
  const args = JSON.parse(readFileSync(`${fixture}/config.json`, 'utf8'));
  const cfg = fromUpstreamArgs(args.build_vae_var_args, { sampleVersion: args.sampling.sample_version });
  const ref = readSafetensors(`${fixture}/reference.safetensors`);
  const vae = readSafetensors(`${fixture}/vae.safetensors`);
  const si = cfg.patchNums.length - 1;
  const N = cfg.patchNums[si] ** 2;
  const B = args.sampling.B;
  const g = new Graph('sampler-tiny-a');
  const w = new GraphWeights(g, readSafetensors(`${fixture}/var.safetensors`), precision);
  const h = g.input('h', 'float32', [2 * B, N, cfg.width]);
  const codebook = g.initializer('codebook', vae.get('quantize.embedding.weight', [cfg.vocabSize, cfg.cvae]));
  const { tokens, checks } = samplerScale({
    cfg,
    weights: w,
    impl: 'matmul',
    si,
    hidden: h,
    logits: dense(w, norm(cfg, h), 'head_logits', cfg.vocabSize, cfg.width, { at: 'float32' }),
    pooled: g.input('pooled', 'float32', [2 * B, cfg.textDim]),
    codebook,
    cfgScale: g.input('cfg', 'float32', [B]),
    topK: g.input('top_k', 'int64', [B]),
    topP: g.input('top_p', 'float32', [B]),
    teacherForcedTokens: g.input('tokens', 'int64', [B, N]),
  });
  const names = Object.keys(checks);
  for (const name of names) g.output(checks[name], name);
  g.output(transpose(gather(codebook, tokens), [0, 2, 1]), 'h_BCl');
  const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
  const feeds: Record<string, RuntimeTensor> = {
    h: tensor('float32', ref.float32(`s${si}.hidden`), [2 * B, N, cfg.width]),
    pooled: tensor('float32', ref.float32('in.encoder_pool_feat'), [2 * B, cfg.textDim]),
    cfg: tensor('float32', new Float32Array(B).fill(args.sampling.cfg), [B]),
    top_k: tensor('int64', new BigInt64Array(B).fill(BigInt(args.sampling.top_k)), [B]),
    top_p: tensor('float32', new Float32Array(B).fill(args.sampling.top_p), [B]),
    tokens: tensor('int64', new BigInt64Array(ref.get(`in.tokens.s${si}`).bytes().buffer), [B, N]),
  };
  for (const input of g.inputs) {
    const recorded = positionNoiseReference(input.name);
    if (recorded) feeds[input.name] = tensor('float32', ref.float32(recorded), [B, N]);
  }
  const out = await session.run(feeds);
  await session.dispose();
  return { out, ref, names };
}

/** Compares every recorded tensor with the fixture: floats within tol·max(1, max |ref|), TopK positions exactly. */
function assertMatchesFixture(out: Record<string, RuntimeTensor>, ref: TensorStore, names: string[], tol: number): void {
  const expected = ref.names.filter((n) => /^s3\.k\d+\.(?!mask_rand)/.test(n));
  assert.deepEqual([...names].sort(), [...expected].sort(), 'the graph records exactly the tensors the fixture holds');
  for (const name of names) {
    const t = ref.get(name);
    if (t.dtype === 'int64') {
      const score = ref.float32(name.replace(/idx$/, 'score'));
      const got = out[name].data as BigInt64Array;
      assert.equal(topkIndexMismatches(got, new BigInt64Array(t.bytes().buffer), score, t.shape[0]), 0, `${name}: ${[...got]}`);
      continue;
    }
    const want = ref.float32(name);
    const got = out[name].data as Float32Array;
    assert.equal(got.length, want.length, name);
    let err = 0;
    let scale = 1;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    assert.ok(err <= tol * scale, `${name}: max abs error ${err} (max |ref| ${scale})`);
  }
  // Every position ends up filled with its forced token's code.
  assert.deepEqual([...(out.h_BCl.data as Float32Array)], [...ref.float32('s3.h_BChw')]);
}

test('tiny-a masked path: every s3.k* tensor matches upstream (teacher-forced, mask_rand replayed)', async () => {
  const { out, ref, names } = await runTinyASamplerScale('fp32');
  assertMatchesFixture(out, ref, names, 1e-4);
});

test('tiny-a masked path in fp16 (fp16 block matrices, fp32 norms and softmax) stays within fp16 error', async () => {
  const { out, ref, names } = await runTinyASamplerScale('fp16');
  assertMatchesFixture(out, ref, names, 5e-3);
});

test('a sampling generator graph with the sampler path takes exactly the noise inputs the pipeline draws, and is deterministic in them', async () => {
  const args = JSON.parse(readFileSync(`${fixture}/config.json`, 'utf8'));
  const cfg = fromUpstreamArgs(args.build_vae_var_args, { sampleVersion: '1024' });
  const vqCfg = vqvaeFromUpstream(args.derived.vqvae);
  const vae = readSafetensors(`${fixture}/vae.safetensors`);
  const ref = readSafetensors(`${fixture}/reference.safetensors`);
  const B = 2;
  const quantizer = vqvaeQuantizer(vae, vqCfg, cfg.patchNums);
  const graph = buildGeneratorGraph(readSafetensors(`${fixture}/var.safetensors`), cfg, {
    batch: B,
    attention: 'matmul',
    quantizer,
    samplerPath: createSamplerPath({ codebook: quantizer.codebook!, attention: 'matmul' }),
  });
  const plan = { patchNums: cfg.patchNums, vocabSize: cfg.vocabSize, sampler: samplerNoisePlan(cfg.sampleFromIdx, cfg.sampleVersion) };
  const noiseInputs = graph.inputs.filter((v) => /noise/.test(v.name)).map((v) => v.name);
  assert.deepEqual(
    noiseInputs,
    noisePlan(plan, false).map((d) => d.name),
  );
  assert.equal(noiseInputs.filter((n) => n.startsWith('position_noise.s3.')).length, POSITION_NOISE_STEPS);

  const session = await Session.create(toModelBytes(graph), { device: 'cpu', threads: 1 });
  const noise = new BatchNoise(plan, [
    { seed: 1, moreSmooth: false },
    { seed: 2, moreSmooth: false },
  ]);
  const drawn = noise.draw(
    0,
    cfg.patchNums.length,
    graph.inputs.filter((v) => /noise/.test(v.name)).map((v) => ({ name: v.name, shape: (v.shape as number[]).slice(1) })),
  );
  const feeds: Record<string, RuntimeTensor> = {
    text_hidden: tensor('float32', ref.float32('in.encoder_hidden_states'), [2 * B, 77, cfg.textDim]),
    text_mask: tensor('int64', new BigInt64Array(ref.get('in.encoder_attention_mask').bytes().buffer), [2 * B, 77]),
    pooled: tensor('float32', ref.float32('in.encoder_pool_feat'), [2 * B, cfg.textDim]),
    cfg: tensor('float32', Float32Array.from([4, 4]), [B]),
    top_k: tensor('int64', BigInt64Array.from([0n, 16n]), [B]),
    top_p: tensor('float32', Float32Array.from([0, 0.8]), [B]),
  };
  for (const [name, data] of drawn) feeds[name] = tensor('float32', data, [B, data.length / B]);
  const first = await session.run(feeds);
  const again = await session.run(feeds);
  await session.dispose();
  const tokens = first['tokens.s3'].data as BigInt64Array;
  assert.equal(tokens.length, B * 16);
  assert.ok(tokens.every((t) => t >= 0n && t < BigInt(cfg.vocabSize)));
  assert.deepEqual(again['tokens.s3'].data, tokens, 'same noise, same tokens');
  assert.deepEqual(again.f_hat.data, first.f_hat.data);
});
