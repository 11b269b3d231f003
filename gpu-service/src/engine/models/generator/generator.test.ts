import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Session, tensor } from '../../onnx/runtime.ts';
import type { RuntimeTensor } from '../../onnx/runtime.ts';
import { toModelBytes } from '../../onnx/serialize.ts';
import { fixturePath } from '../../testing/fixtures.ts';
import { readSafetensors } from '../../weights/safetensors.ts';
import { fromUpstream as vqvaeFromUpstream } from '../vqvae/config.ts';
import type { CrossAttnMode } from './blocks.ts';
import { WeightFeeder } from '../../onnx/graph-weights.ts';
import { fromUpstreamArgs, scaleCount } from './config.ts';
import type { GeneratorGraphOptions } from './generator.ts';
import { buildGeneratorGraph, carriedFeeds, names } from './generator.ts';
import { vqvaeQuantizer } from './quantizer.ts';
import { createSamplerPath } from './sampler-head.ts';

// tiny-b: the standard path at every scale. Real fixture text inputs, uniform noise from a fixed LCG.
const dir = fixturePath('star-tiny/tiny-b');
const fixture = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const cfg = fromUpstreamArgs(fixture.build_vae_var_args);
const vqCfg = vqvaeFromUpstream(fixture.derived.vqvae);
const weights = readSafetensors(join(dir, 'var.safetensors'));
const vae = readSafetensors(join(dir, 'vae.safetensors'));
const ref = readSafetensors(join(dir, 'reference.safetensors'));
const S = scaleCount(cfg);
const quantizer = vqvaeQuantizer(vae, vqCfg, cfg.patchNums);
const sessions: Session[] = [];

async function session(options: Omit<GeneratorGraphOptions, 'quantizer'>): Promise<Session> {
  const s = await Session.create(toModelBytes(buildGeneratorGraph(weights, cfg, { ...options, quantizer })), { device: 'cpu', threads: 1 });
  sessions.push(s);
  return s;
}
after(async () => {
  for (const s of sessions) await s.dispose();
});

/** Text inputs of the first `B` images: rows 0..B−1 conditional and B..2B−1 unconditional, from the fixture's B = 2 batch. */
function textFeeds(B: number): Record<string, RuntimeTensor> {
  const rowsOf = (name: string, rows: number[]) => {
    const t = ref.get(name);
    const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const isInt = t.dtype === 'int64';
    const src = isInt ? new BigInt64Array(t.bytes().buffer) : ref.float32(name);
    const out = isInt ? new BigInt64Array(rows.length * per) : new Float32Array(rows.length * per);
    rows.forEach((r, i) => {
      (out as Float32Array).set((src as Float32Array).subarray(r * per, (r + 1) * per), i * per);
    });
    return tensor(isInt ? 'int64' : 'float32', out, [rows.length, ...t.shape.slice(1)]);
  };
  const rows = [...Array(B).keys(), ...[...Array(B).keys()].map((b) => 2 + b)];
  return {
    [names.textHidden]: rowsOf('in.encoder_hidden_states', rows),
    [names.textMask]: rowsOf('in.encoder_attention_mask', rows),
    [names.pooled]: rowsOf('in.encoder_pool_feat', rows),
  };
}

function rowFeeds(B: number, settings = { cfg: [4, 2.5], topK: [0, 20], topP: [0, 0.8] }): Record<string, RuntimeTensor> {
  return {
    [names.cfg]: tensor('float32', Float32Array.from(settings.cfg.slice(0, B)), [B]),
    [names.topK]: tensor('int64', BigInt64Array.from(settings.topK.slice(0, B).map(BigInt)), [B]),
    [names.topP]: tensor('float32', Float32Array.from(settings.topP.slice(0, B)), [B]),
  };
}

/** Uniform (0, 1) numbers from a 32-bit linear congruential generator: repeatable noise for the sampling inputs. */
function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
}

function noiseFeeds(B: number, seed = 12345): Record<string, RuntimeTensor> {
  const next = lcg(seed);
  const feeds: Record<string, RuntimeTensor> = {};
  for (let si = 0; si < S; si++) {
    const n = cfg.patchNums[si] ** 2;
    feeds[names.noise(si)] = tensor('float32', Float32Array.from({ length: B * n }, next), [B, n]);
  }
  return feeds;
}

function pick(feeds: Record<string, RuntimeTensor>, s: Pick<Session, 'inputNames'>): Record<string, RuntimeTensor> {
  return Object.fromEntries(
    s.inputNames.map((n) => {
      if (!feeds[n]) throw new Error(`no feed for ${n}`);
      return [n, feeds[n]];
    }),
  );
}

async function oneRun(B: number, crossAttn: CrossAttnMode, attention: 'fused' | 'matmul' = 'fused') {
  const s = await session({ batch: B, crossAttn, attention });
  return s.run(pick({ ...textFeeds(B), ...rowFeeds(B), ...noiseFeeds(B) }, s));
}

const bits = (t: RuntimeTensor) => Buffer.from((t.data as Float32Array).buffer, t.data.byteOffset, t.data.byteLength);

let allScales: Record<string, RuntimeTensor>;
before(async () => {
  allScales = await oneRun(2, 'per-request');
});

test('sampled tokens are valid codebook indices at every scale and f_hat has the final latent shape', () => {
  for (let si = 0; si < S; si++) {
    const tokens = allScales[names.tokens(si)];
    assert.deepEqual(tokens.dims, [2, cfg.patchNums[si] ** 2]);
    for (const t of tokens.data as BigInt64Array) assert.ok(t >= 0n && t < BigInt(cfg.vocabSize));
  }
  assert.deepEqual(allScales[names.fHat].dims, [2, cfg.cvae, 8, 8]);
});

test('one run over all scales and one run per scale (carrying KV cache, text K/V, f_hat, next_input) give bit-identical tokens and f_hat', async () => {
  const B = 2;
  const fixed = { ...textFeeds(B), ...rowFeeds(B), ...noiseFeeds(B) };
  let carried: Record<string, RuntimeTensor> = {};
  let last: Record<string, RuntimeTensor> = {};
  for (let si = 0; si < S; si++) {
    const s = await session({ batch: B, first: si, last: si });
    last = await s.run(pick({ ...fixed, ...carried }, s));
    assert.deepEqual(
      [...(last[names.tokens(si)].data as BigInt64Array)],
      [...(allScales[names.tokens(si)].data as BigInt64Array)],
      `tokens at scale ${si}`,
    );
    if (si === 0) assert.ok(last[names.crossKey(0)], 'the first run hands out the text K/V');
    else assert.equal(last[names.crossKey(0)], undefined, 'later runs take the text K/V as input');
    carried = carriedFeeds(last, cfg.depth, carried);
  }
  assert.ok(bits(last[names.fHat]).equals(bits(allScales[names.fHat])), 'f_hat bit-identical');
});

test('per-request cross-attention equals upstream for a single image, bit for bit', async () => {
  const [perRequest, upstream] = [await oneRun(1, 'per-request'), await oneRun(1, 'upstream')];
  for (let si = 0; si < S; si++)
    assert.deepEqual([...(perRequest[names.tokens(si)].data as BigInt64Array)], [...(upstream[names.tokens(si)].data as BigInt64Array)]);
  assert.ok(bits(perRequest[names.fHat]).equals(bits(upstream[names.fHat])));
});

test("per-request routing keeps image 1 independent of image 0's prompt; upstream leaks it", async () => {
  // Image 1 alone (B = 1 with its rows) vs image 1 inside a batch of 2: same seed noise for its row.
  const single = await session({ batch: 1, crossAttn: 'per-request' });
  const image1Text = Object.fromEntries(
    Object.entries(textFeeds(2)).map(([k, t]) => {
      const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
      const data = t.data as Float32Array;
      const rows = [1, 3].map((r) => data.subarray(r * per, (r + 1) * per));
      const out = new (data.constructor as Float32ArrayConstructor)(2 * per);
      rows.forEach((row, i) => {
        out.set(row as Float32Array, i * per);
      });
      return [k, tensor(t.dtype, out, [2, ...t.dims.slice(1)])];
    }),
  );
  const batchNoise = noiseFeeds(2);
  const row1Noise = Object.fromEntries(
    Object.entries(batchNoise).map(([k, t]) => {
      const n = t.dims[1];
      return [k, tensor('float32', (t.data as Float32Array).slice(n, 2 * n), [1, n])];
    }),
  );
  const settings = { cfg: [2.5], topK: [20], topP: [0.8] };
  const alone = await single.run(pick({ ...image1Text, ...rowFeeds(1, settings), ...row1Noise }, single));
  const row1 = (t: RuntimeTensor) => [...(t.data as BigInt64Array)].slice(t.dims[1]);
  for (let si = 0; si < S; si++)
    assert.deepEqual([...(alone[names.tokens(si)].data as BigInt64Array)], row1(allScales[names.tokens(si)]), `per-request scale ${si}`);
  const upstream = await oneRun(2, 'upstream');
  assert.notDeepEqual(
    row1(upstream[names.tokens(S - 1)]),
    row1(allScales[names.tokens(S - 1)]),
    "upstream routes image 0's cross-attention into image 1",
  );
});

test('plain MatMul attention samples the same tokens as the fused contrib op', async () => {
  const plain = await oneRun(2, 'per-request', 'matmul');
  for (let si = 0; si < S; si++)
    assert.deepEqual([...(plain[names.tokens(si)].data as BigInt64Array)], [...(allScales[names.tokens(si)].data as BigInt64Array)]);
});

test('more_smooth rows take the Gumbel soft-code path; other rows are unchanged by it', async () => {
  const B = 2;
  const s = await session({ batch: B, moreSmooth: true });
  const gumbel: Record<string, RuntimeTensor> = {};
  const next = lcg(99);
  for (let si = 0; si < S; si++) {
    const n = cfg.patchNums[si] ** 2;
    gumbel[names.gumbel(si)] = tensor('float32', Float32Array.from({ length: B * n * cfg.vocabSize }, next), [B, n, cfg.vocabSize]);
  }
  const out = await s.run(
    pick(
      {
        ...textFeeds(B),
        ...rowFeeds(B),
        ...noiseFeeds(B),
        ...gumbel,
        [names.moreSmooth]: tensor('bool', Uint8Array.from([0, 1]), [B]),
      },
      s,
    ),
  );
  const half = cfg.cvae * 64;
  const fHat = out[names.fHat].data as Float32Array;
  const reference = allScales[names.fHat].data as Float32Array;
  assert.ok(
    bits({ ...out[names.fHat], data: fHat.subarray(0, half) }).equals(
      bits({ ...allScales[names.fHat], data: reference.subarray(0, half) }),
    ),
    'row 0 (more_smooth off) unchanged',
  );
  assert.ok(
    fHat.subarray(half).some((v, i) => v !== reference[half + i]),
    'row 1 takes soft codes',
  );
  assert.ok(fHat.every(Number.isFinite));
});

test('weights as graph inputs (one copy fed to every per-scale session) give the same tokens and f_hat as weights in the graph', async () => {
  const B = 2;
  const feeder = new WeightFeeder(weights);
  const fixed = { ...textFeeds(B), ...rowFeeds(B), ...noiseFeeds(B) };
  let carried: Record<string, RuntimeTensor> = {};
  let last: Record<string, RuntimeTensor> = {};
  for (let si = 0; si < S; si++) {
    const s = await session({ batch: B, first: si, last: si, weights: 'inputs' });
    assert.ok(s.inputNames.some((n) => n === 'weights/blocks.0.attn.mat_qkv.weight@float32'));
    const weightFeeds = feeder.feeds(s.inputNames);
    const others = s.inputNames.filter((n) => !WeightFeeder.isWeightInput(n));
    last = await s.run({ ...pick({ ...fixed, ...carried }, { inputNames: others }), ...weightFeeds });
    assert.deepEqual(
      [...(last[names.tokens(si)].data as BigInt64Array)],
      [...(allScales[names.tokens(si)].data as BigInt64Array)],
      `tokens at scale ${si}`,
    );
    carried = carriedFeeds(last, cfg.depth, carried);
  }
  assert.ok(bits(last[names.fHat]).equals(bits(allScales[names.fHat])), 'f_hat bit-identical');
  const matrixBytes = [...weights.names]
    .filter((n) => !n.startsWith('class_emb'))
    .reduce((sum, n) => sum + weights.get(n).shape.reduce((a, b) => a * b, 1) * 4, 0);
  assert.ok(feeder.byteLength <= matrixBytes, 'each weight is held once, however many sessions use it');
});

test('with the sampler head (tiny-a, §4.5 at its last scale), per-scale runs reproduce the one-run tokens and f_hat bit for bit', async () => {
  const dirA = fixturePath('star-tiny/tiny-a');
  const json = JSON.parse(readFileSync(join(dirA, 'config.json'), 'utf8'));
  const cfgA = fromUpstreamArgs(json.build_vae_var_args, { sampleVersion: json.sampling.sample_version });
  const storeA = readSafetensors(join(dirA, 'var.safetensors'));
  const quantizerA = vqvaeQuantizer(readSafetensors(join(dirA, 'vae.safetensors')), vqvaeFromUpstream(json.derived.vqvae), cfgA.patchNums);
  const samplerPath = createSamplerPath({ codebook: quantizerA.codebook! });
  const build = async (first?: number, last?: number) => {
    const s = await Session.create(
      toModelBytes(buildGeneratorGraph(storeA, cfgA, { batch: 2, quantizer: quantizerA, samplerPath, first, last })),
      { device: 'cpu', threads: 1 },
    );
    sessions.push(s);
    return s;
  };
  const refA = readSafetensors(join(dirA, 'reference.safetensors'));
  const feeds: Record<string, RuntimeTensor> = {
    [names.textHidden]: tensor('float32', refA.float32('in.encoder_hidden_states'), refA.get('in.encoder_hidden_states').shape),
    [names.textMask]: tensor(
      'int64',
      new BigInt64Array(refA.get('in.encoder_attention_mask').bytes().buffer),
      refA.get('in.encoder_attention_mask').shape,
    ),
    [names.pooled]: tensor('float32', refA.float32('in.encoder_pool_feat'), refA.get('in.encoder_pool_feat').shape),
    ...rowFeeds(2),
  };
  const one = await build();
  const next = lcg(7);
  for (const name of one.inputNames.filter((n) => !feeds[n])) {
    const pn = cfgA.patchNums[Number(/\.s(\d+)/.exec(name)![1])];
    feeds[name] = tensor('float32', Float32Array.from({ length: 2 * pn * pn }, next), [2, pn * pn]);
  }
  const all = await one.run(pick(feeds, one));
  let carried: Record<string, RuntimeTensor> = {};
  let last: Record<string, RuntimeTensor> = {};
  for (let si = 0; si < cfgA.patchNums.length; si++) {
    const s = await build(si, si);
    last = await s.run(pick({ ...feeds, ...carried }, s));
    assert.deepEqual(
      [...(last[names.tokens(si)].data as BigInt64Array)],
      [...(all[names.tokens(si)].data as BigInt64Array)],
      `tokens at scale ${si}`,
    );
    carried = carriedFeeds(last, cfgA.depth, carried);
  }
  assert.ok(bits(last[names.fHat]).equals(bits(all[names.fHat])));
});
