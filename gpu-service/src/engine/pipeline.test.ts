import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findModel } from '@star-api/contract';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { contiguousStride, writeTorchSave } from './testing/torch-save.ts';
import type { PickleValue, TorchSaveStorage } from './testing/torch-save.ts';
import { readSafetensors } from './weights/safetensors.ts';
import { writeRandomModel } from './models/random-model.ts';
import { BUILTIN_MODELS_DIR, readManifest } from './models/registry.ts';
import { STAR_TINY_RANDOM } from './models/star-tiny.ts';
import type { StarPipeline } from './pipeline.ts';
import { carriedBytesPerToken, loadPipeline, scaleRanges, validateRequest } from './pipeline.ts';
import type { GenerateRequest, Pipeline, ProgressEvent } from './types.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'star-pipeline-'));
const REQUEST: GenerateRequest = { prompt: 'a red fox in the snow', seeds: [7], cfg: 4, top_k: 0, top_p: 0.8, more_smooth: false };
/** star-tiny's token-map side per scale as the public model catalogue states it. */
const STAR_TINY_SIDES = findModel('star-tiny')!.scales;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

let perScale: Pipeline;
before(async () => {
  perScale = await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir, mode: 'per-scale' });
});
after(async () => {
  await perScale?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('loadPipeline(star-tiny, cpu)', () => {
  it('describes the model and generates RGB images of its size, one per seed, with timings', async () => {
    assert.deepEqual(perScale.info, { name: 'star-tiny', resolution: 64, patchNums: STAR_TINY_SIDES });
    const result = await perScale.generate({ ...REQUEST, seeds: [7, 8] });
    assert.equal(result.images.length, 2);
    assert.equal(result.batchSize, 2);
    for (const image of result.images) {
      assert.equal(image.width, 64);
      assert.equal(image.height, 64);
      assert.equal(image.data.length, 64 * 64 * 3);
    }
    assert.ok(!same(result.images[0].data, result.images[1].data), 'different seeds give different images');
    for (const t of ['textMs', 'generateMs', 'decodeMs', 'totalMs'] as const) assert.ok(result.timings[t] >= 0);
  });

  it('gives identical bytes for the same seed, and image i of a request = image 0 of a request for its seed alone', async () => {
    const a = await perScale.generate({ ...REQUEST, seeds: [100, 101, 102] });
    const b = await perScale.generate({ ...REQUEST, seeds: [100, 101, 102] });
    a.images.forEach((image, i) => {
      assert.ok(same(image.data, b.images[i].data), `image ${i} repeats`);
    });
    const third = await perScale.generate({ ...REQUEST, seeds: [102] });
    assert.ok(same(a.images[2].data, third.images[0].data));
  });

  it("does not let a neighbour request in the batch change an image (star-tiny's per-row cross-attention)", async () => {
    const alone = await perScale.generate(REQUEST);
    const [other, mine] = await Promise.all(
      perScale.generateBatch([{ request: { ...REQUEST, prompt: 'a blue whale', seeds: [99], cfg: 2, top_k: 10 } }, { request: REQUEST }]),
    );
    assert.equal(mine.batchSize, 2);
    assert.ok(same(mine.images[0].data, alone.images[0].data));
    assert.ok(!same(other.images[0].data, alone.images[0].data));
  });

  it('reports progress after every scale, with previews when asked', async () => {
    const events: ProgressEvent[] = [];
    await perScale.generate({ ...REQUEST, seeds: [7, 8] }, { onProgress: (e) => events.push(e), preview: true });
    assert.deepEqual(
      events.map((e) => [e.scale, e.scales, e.side]),
      STAR_TINY_SIDES.map((side, i) => [i + 1, STAR_TINY_SIDES.length, side]),
    );
    // star-tiny's VQVAE upsamples ×8: a preview of side s is 8s pixels wide.
    assert.deepEqual(
      events.map((e) => e.previews?.map((p) => p.width)),
      STAR_TINY_SIDES.map((side) => [8 * side, 8 * side]),
    );
  });

  it('rejects an aborted request with its reason between scales while the rest of the batch completes', async () => {
    const controller = new AbortController();
    const reason = new Error('client went away');
    const [cancelled, kept] = perScale.generateBatch([
      {
        request: REQUEST,
        options: {
          signal: controller.signal,
          onProgress: (e) => {
            if (e.scale === 2) controller.abort(reason);
          },
        },
      },
      { request: { ...REQUEST, seeds: [8] } },
    ]);
    await assert.rejects(cancelled, (err) => err === reason);
    const result = await kept;
    const alone = await perScale.generate({ ...REQUEST, seeds: [8] });
    assert.ok(same(result.images[0].data, alone.images[0].data));
  });

  it('rejects bad requests with a clear error and runs the others', async () => {
    const [bad, good] = perScale.generateBatch([{ request: { ...REQUEST, seeds: [] } }, { request: REQUEST }]);
    await assert.rejects(bad, /seeds must list at least one seed/);
    assert.equal((await good).images.length, 1);
    assert.match(validateRequest({ ...REQUEST, seeds: [7, -1] }) ?? '', /each seed must be an integer/);
    assert.match(validateRequest({ ...REQUEST, top_p: 2 }) ?? '', /top_p must be in \[0, 1\]/);
  });

  it('produces the same bytes with one run over all scales (weights in the graph) as with one run per scale (weights fed from one copy)', async () => {
    const all = await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir, mode: 'all' });
    const mappedPerScale = await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir, weightBinding: 'initializers' });
    try {
      assert.equal((all as StarPipeline).options.mode, 'all');
      const request = { ...REQUEST, seeds: [7, 8] };
      const [a, b, c] = await Promise.all([all.generate(request), perScale.generate(request), mappedPerScale.generate(request)]);
      assert.equal((all as StarPipeline).fedWeightBytes, 0);
      assert.equal((mappedPerScale as StarPipeline).fedWeightBytes, 0);
      const fed = (perScale as StarPipeline).fedWeightBytes;
      const weightBytes = [...(perScale as StarPipeline).model.generatorWeights.names]
        .map((n) => (perScale as StarPipeline).model.generatorWeights.get(n))
        .reduce((sum, t) => sum + t.shape.reduce((x, y) => x * y, 1) * 4, 0);
      assert.ok(fed > 0.5 * weightBytes && fed <= weightBytes, `per scale feeds its weights from one copy: ${fed} of ${weightBytes} bytes`);
      a.images.forEach((image, i) => {
        assert.ok(same(image.data, b.images[i].data), `image ${i}, fed per scale`);
        assert.ok(same(image.data, c.images[i].data), `image ${i}, mapped per scale`);
      });
    } finally {
      await Promise.all([all.dispose(), mappedPerScale.dispose()]);
    }
  });

  it('runs more_smooth rows next to ordinary ones, deterministically', async () => {
    // Same batch composition ⇒ same bytes. (Across batch sizes more_smooth
    // images may differ by 1/255: the soft-code matmul at scale 0 has one row
    // per image, and onnxruntime sums a single row in another order.)
    const smooth = { ...REQUEST, more_smooth: true };
    const batch = () => Promise.all(perScale.generateBatch([{ request: smooth }, { request: REQUEST }]));
    const [a, plain] = await batch();
    const [b] = await batch();
    assert.ok(same(a.images[0].data, b.images[0].data));
    assert.ok(!same(a.images[0].data, plain.images[0].data));
    assert.ok(same(plain.images[0].data, (await perScale.generate(REQUEST)).images[0].data), 'ordinary rows are unaffected');
  });

  it('runs a model with the sampler head (STAR-SPEC §4.5) from seeded noise, deterministically', async () => {
    // star-tiny's shapes at depth 3 (the sampler head needs ≥ 3) with the head, sampler from scale 3 (pn 4).
    const dir = join(cacheDir, 'tiny-sampler');
    const args = { ...STAR_TINY_RANDOM.manifest.generator.build_vae_var_args, depth: 3, enable_adaptive_norm: true, sample_from_idx: 3 };
    writeRandomModel(dir, {
      ...STAR_TINY_RANDOM,
      seed: 77,
      manifest: {
        ...STAR_TINY_RANDOM.manifest,
        name: 'tiny-sampler',
        generator: { ...STAR_TINY_RANDOM.manifest.generator, build_vae_var_args: args },
      },
    });
    cpSync(join(BUILTIN_MODELS_DIR, 'star-tiny/tokenizer'), join(dir, 'tokenizer'), { recursive: true });
    const sampler = await loadPipeline(dir, { device: 'cpu', threads: 1, cacheDir });
    try {
      const [a, b] = await Promise.all([sampler.generate({ ...REQUEST, seeds: [7, 8] }), sampler.generate({ ...REQUEST, seeds: [7, 8] })]);
      a.images.forEach((image, i) => {
        assert.ok(same(image.data, b.images[i].data));
      });
      assert.ok(!same(a.images[0].data, a.images[1].data));
      const second = await sampler.generate({ ...REQUEST, seeds: [8] });
      assert.ok(same(second.images[0].data, a.images[1].data));
    } finally {
      await sampler.dispose();
    }
  });

  it('loads released-style .pth checkpoints (generator at trainer.var_wo_ddp) to the same bytes as safetensors', async () => {
    const tiny = join(BUILTIN_MODELS_DIR, 'star-tiny');
    const dir = join(cacheDir, 'tiny-pth');
    mkdirSync(dir, { recursive: true });
    cpSync(join(tiny, 'tokenizer'), join(dir, 'tokenizer'), { recursive: true });
    cpSync(join(tiny, 'text_encoder'), join(dir, 'text_encoder'), { recursive: true });
    /** A state dict as torch.save writes it: one storage per tensor (fp32, as the released files). */
    const asPth = (file: string): { dict: PickleValue; storages: TorchSaveStorage[] } => {
      const store = readSafetensors(join(tiny, file));
      const storages: TorchSaveStorage[] = [];
      const entries: [string, PickleValue][] = store.names.map((name, i) => {
        const t = store.get(name);
        storages.push({ key: String(i), bytes: t.bytes() });
        const numel = t.shape.reduce((a, b) => a * b, 1);
        return [
          name,
          {
            kind: 'tensor',
            storageKey: String(i),
            storageType: 'FloatStorage',
            storageNumel: numel,
            offset: 0,
            shape: [...t.shape],
            stride: contiguousStride([...t.shape]),
            parameter: true,
          },
        ];
      });
      return { dict: { ordered: entries }, storages };
    };
    const generator = asPth('var.safetensors');
    writeTorchSave(
      join(dir, 'ar-ckpt.pth'),
      {
        dict: [
          ['trainer', { dict: [['var_wo_ddp', generator.dict]] }],
          ['args', null],
        ],
      },
      generator.storages,
    );
    const vae = asPth('vae.safetensors');
    writeTorchSave(join(dir, 'vae.pth'), vae.dict, vae.storages);
    const shipped = readManifest(tiny);
    const manifest = {
      ...shipped,
      name: 'tiny-pth',
      generator: { ...shipped.generator, weights: 'ar-ckpt.pth', key: 'trainer.var_wo_ddp' },
      vqvae: { ...shipped.vqvae, weights: 'vae.pth' },
    };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    const fromPth = await loadPipeline(dir, { device: 'cpu', threads: 1, cacheDir });
    try {
      const a = await fromPth.generate({ ...REQUEST, seeds: [7, 8] });
      const b = await perScale.generate({ ...REQUEST, seeds: [7, 8] });
      a.images.forEach((image, i) => {
        assert.ok(same(image.data, b.images[i].data), `image ${i}`);
      });
    } finally {
      await fromPth.dispose();
    }
  });

  it('routes cross-attention as the model was trained (model.json generator.cross_attn) unless asked otherwise', async () => {
    assert.equal(readManifest(join(BUILTIN_MODELS_DIR, 'star-tiny')).generator.cross_attn, 'per-row');
    assert.equal((perScale as StarPipeline).options.crossAttn, 'per-row');
    const perRequest = (await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir, crossAttn: 'per-request' })) as StarPipeline;
    try {
      assert.equal(perRequest.options.crossAttn, 'per-request');
      // The unconditional row reads the prompt's cross-attention instead of its own: other images.
      const asked = await perRequest.generate(REQUEST);
      const served = await perScale.generate(REQUEST);
      assert.ok(!same(asked.images[0].data, served.images[0].data));
    } finally {
      await perRequest.dispose();
    }
  });

  it('names the missing model and how to get it', async () => {
    await assert.rejects(
      loadPipeline('star-256-d30', { device: 'cpu', modelDir: cacheDir }),
      /model "star-256-d30" not found .*npx star fetch-model star-256-d30/,
    );
    await assert.rejects(loadPipeline('no-such-model', { device: 'cpu' }), /known models: star-tiny/);
  });
});

describe("precision 'int8' (CPU)", () => {
  it('builds its own graphs, stores the quantized weights in a smaller pool, and generates deterministically', async () => {
    const int8 = (await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir, precision: 'int8' })) as StarPipeline;
    try {
      const [fp32Graph, int8Graph] = [perScale as StarPipeline, int8].map((p) => p.generatorGraphPath(1, 0, 0, false));
      assert.notEqual(fp32Graph, int8Graph, 'the graph cache key includes the precision');
      const poolBytes = (graph: string) => statSync(join(dirname(graph), 'weights.bin')).size;
      assert.ok(poolBytes(int8Graph) < 0.6 * poolBytes(fp32Graph), `pool ${poolBytes(int8Graph)} vs fp32 ${poolBytes(fp32Graph)} bytes`);
      const a = await int8.generate(REQUEST);
      const b = await int8.generate(REQUEST);
      assert.ok(same(a.images[0].data, b.images[0].data));
      assert.ok(!same(a.images[0].data, (await perScale.generate(REQUEST)).images[0].data), 'int8 really ran');
    } finally {
      await int8.dispose();
    }
  });

  it("gives the same bytes in 'all' mode, whose session prepacks the int8 weights, as per scale", async () => {
    const images = [];
    for (const mode of ['all', 'per-scale'] as const) {
      const p = await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir, mode, precision: 'int8' });
      images.push((await p.generate(REQUEST)).images[0].data);
      await p.dispose();
    }
    assert.ok(same(images[0], images[1]));
  });

  it('refuses weights fed as inputs, which it does not build', async () => {
    await assert.rejects(
      loadPipeline('star-tiny', { device: 'cpu', cacheDir, precision: 'int8', weightBinding: 'inputs' }),
      /int8 weights enter the generator as initializers only/,
    );
  });

  it('is refused on CUDA, where its products have no kernels', async () => {
    await assert.rejects(loadPipeline('star-tiny', { device: 'cuda', precision: 'int8' }), /'int8' runs on the CPU only/);
  });
});

describe('per-scale runs within a carried-state limit (the CUDA default, run here on CPU)', () => {
  it('ends runs only while the KV cache crossing is under the limit, counts every byte that crosses, and gives the same bytes as one run', async () => {
    const probe = (await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir })) as StarPipeline;
    const cfg = probe.model.generatorConfig;
    await probe.dispose();
    const perToken = carriedBytesPerToken(cfg, 'fp32');
    assert.equal(perToken, 2 * cfg.depth * 2 * cfg.width * 4, '2 CFG rows × blocks × K and V × width × fp32');
    const [t0, t1] = [cfg.patchNums[0] ** 2, cfg.patchNums[0] ** 2 + cfg.patchNums[1] ** 2]; // tokens carried after scales 0 and 1
    const S = cfg.patchNums.length;
    const limited = (await loadPipeline('star-tiny', {
      device: 'cpu',
      threads: 1,
      cacheDir,
      carriedBytesPerImage: t1 * perToken,
    })) as StarPipeline;
    const all = await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir, mode: 'all' });
    try {
      assert.deepEqual(
        limited.scaleRanges(),
        [
          { first: 0, last: 0 },
          { first: 1, last: 1 },
          { first: 2, last: S - 1 },
        ],
        'the scales after the limit run as one',
      );
      const events: number[] = [];
      const request = { ...REQUEST, seeds: [7, 8] };
      const [a, b] = await Promise.all([limited.generate(request, { onProgress: (e) => events.push(e.scale) }), all.generate(request)]);
      a.images.forEach((image, i) => {
        assert.ok(same(image.data, b.images[i].data), `image ${i}: same bytes as one run`);
      });
      assert.deepEqual(
        events,
        cfg.patchNums.map((_, si) => si + 1),
        'a progress event for every scale (the last run reports its scales at its end)',
      );
      const runs = await limited.generatorTransfers(2);
      assert.equal(runs.length, 3);
      for (const [i, { transfers }] of runs.entries()) {
        assert.equal(transfers.runs, 1);
        const kvOut = Object.entries(transfers.lastRun.out)
          .filter(([name]) => name.startsWith('present_'))
          .reduce((sum, [, bytes]) => sum + bytes, 0);
        const tokens = [t0, t1, 0][i];
        assert.equal(kvOut, tokens * perToken * 2, `run ${i}: the KV cache of ${tokens} tokens × 2 images crosses out, nothing more`);
        assert.ok(kvOut <= t1 * perToken * 2);
      }
      assert.equal(
        runs[2].transfers.lastRun.in['past_key.0'],
        (t1 * perToken * 2) / (2 * cfg.depth),
        "the last run takes in what the second handed out (one block's keys)",
      );
    } finally {
      await Promise.all([limited.dispose(), all.dispose()]);
    }
  });
});

describe('scaleRanges', () => {
  const d16 = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16];
  it('gives one run for all scales, or one per scale', () => {
    assert.deepEqual(scaleRanges(d16, 'all', 0), [{ first: 0, last: 9 }]);
    assert.deepEqual(
      scaleRanges([1, 2, 3, 4], 'per-scale', 0),
      [0, 1, 2, 3].map((si) => ({ first: si, last: si })),
    );
  });
  it("lets small scales share the next scale's run", () => {
    assert.deepEqual(scaleRanges(d16, 'per-scale', 64), [
      { first: 0, last: 6 },
      { first: 7, last: 7 },
      { first: 8, last: 8 },
      { first: 9, last: 9 },
    ]);
    assert.deepEqual(scaleRanges([1, 2, 3, 4], 'per-scale', 1000), [{ first: 0, last: 3 }]);
  });
  it('runs the scales after the carried-token limit as one', () => {
    // cumulative tokens after each d16 scale: 1 5 14 30 55 91 155 255 424 680
    assert.deepEqual(
      scaleRanges(d16, 'per-scale', 0, 100),
      [0, 1, 2, 3, 4, 5].map((si) => ({ first: si, last: si })).concat({ first: 6, last: 9 }),
    );
    assert.deepEqual(scaleRanges(d16, 'per-scale', 0, 0), [{ first: 0, last: 9 }]);
  });
});

describe('batch sizes of a GPU memory plan (run here on CPU)', () => {
  it('pads a batch up to the smallest planned size without changing any image, and refuses a batch above the largest', async () => {
    const planned = await loadPipeline('star-tiny', { device: 'cpu', threads: 1, cacheDir, mode: 'all', batchSizes: [4, 1] });
    try {
      const requests = [
        { ...REQUEST, seeds: [11] },
        { ...REQUEST, prompt: 'a blue whale', seeds: [12, 13] },
      ];
      const [a, b] = await Promise.all(planned.generateBatch(requests.map((request) => ({ request }))));
      assert.equal(a.batchSize, 4, 'three images ran in the batch-4 session');
      const alone = await Promise.all(requests.map((request) => perScale.generate(request)));
      assert.ok(same(a.images[0].data, alone[0].images[0].data));
      b.images.forEach((image, i) => {
        assert.ok(same(image.data, alone[1].images[i].data), `image ${i} of the second request`);
      });
      assert.equal((await planned.generate(REQUEST)).batchSize, 1, 'one image runs in the batch-1 session');
      await assert.rejects(
        planned.generate({ ...REQUEST, seeds: [1, 2, 3, 4, 5] }),
        /batch of 5 images is more than this pipeline's largest batch \(4/,
      );
    } finally {
      await planned.dispose();
    }
  });
});
