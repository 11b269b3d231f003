import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageSeeds } from '@star-api/contract';
import { BatchNoise, noisePlan, SplitMix64, UNUSED_NOISE, Xoshiro128 } from './random.ts';
import type { NoisePlanConfig } from './random.ts';

const CONFIG: NoisePlanConfig = { patchNums: [1, 2, 3], vocabSize: 5 };
const INPUTS = noisePlan(CONFIG, true);

describe('SplitMix64', () => {
  it('matches the reference implementation (seed 1234567)', () => {
    const sm = new SplitMix64(1234567n);
    assert.deepEqual([sm.next(), sm.next(), sm.next()], [6457827717110365317n, 3203168211198807973n, 9817491932198370423n]);
  });
});

describe('Xoshiro128', () => {
  it('matches the reference xoshiro128** outputs', () => {
    // State and outputs from the C reference implementation (prng.di.unimi.it).
    const rng = new Xoshiro128(0x964d4a0c, 0xd40ab895, 0xad7fdecb, 0x3006f0f0);
    assert.deepEqual(
      [rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()],
      [0xf1391922, 0x6fe53806, 0xa5be2840, 0xf510ee70],
    );
  });

  it('is deterministic per seed and differs between seeds', () => {
    const a = Xoshiro128.fromSeed(42);
    const b = Xoshiro128.fromSeed(42);
    const c = Xoshiro128.fromSeed(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    assert.deepEqual(
      xs,
      Array.from({ length: 8 }, () => b.nextUint32()),
    );
    assert.notDeepEqual(
      xs,
      Array.from({ length: 8 }, () => c.nextUint32()),
    );
  });

  it('draws fp32-exact uniforms strictly inside (0, 1)', () => {
    const rng = Xoshiro128.fromSeed(0);
    const out = new Float32Array(200_000);
    rng.fillUniform(out);
    let sum = 0;
    for (const u of out) {
      assert.ok(u > 0 && u < 1, `uniform ${u} outside (0, 1)`);
      sum += u;
    }
    assert.ok(Math.abs(sum / out.length - 0.5) < 0.005, `mean ${sum / out.length}`);
    // The extremes of the mapping are exact in fp32 too.
    assert.equal(Math.fround(0.5 * 2 ** -23), 0.5 * 2 ** -23);
    assert.equal(Math.fround((2 ** 23 - 1 + 0.5) * 2 ** -23), (2 ** 23 - 1 + 0.5) * 2 ** -23);
  });

  it('rejects seeds outside uint32', () => {
    assert.throws(() => Xoshiro128.fromSeed(-1), /seed must be an integer/);
    assert.throws(() => Xoshiro128.fromSeed(2 ** 32), /seed must be an integer/);
    assert.throws(() => Xoshiro128.fromSeed(1.5), /seed must be an integer/);
  });
});

describe('noisePlan', () => {
  it('lists token noise per scale, gumbel only with more_smooth', () => {
    assert.deepEqual(
      noisePlan(CONFIG, false).map((d) => d.name),
      ['noise.s0', 'noise.s1', 'noise.s2'],
    );
    assert.deepEqual(
      INPUTS.map((d) => `${d.name}:${d.shape}`),
      ['noise.s0:1', 'gumbel.s0:1,5', 'noise.s1:4', 'gumbel.s1:4,5', 'noise.s2:9', 'gumbel.s2:9,5'],
    );
  });

  it('lists per-step token and position noise on sampler scales (STAR-SPEC §7)', () => {
    const plan = noisePlan({ ...CONFIG, sampler: { fromIdx: 2, stepsAt: () => 3, positionNoiseSteps: 2 } }, false);
    assert.deepEqual(
      plan.map((d) => d.name),
      ['noise.s0', 'noise.s1', 'noise.s2.k0', 'position_noise.s2.k0', 'noise.s2.k1', 'position_noise.s2.k1', 'noise.s2.k2'],
    );
  });
});

describe('BatchNoise', () => {
  const all = (noise: BatchNoise) => noise.draw(0, CONFIG.patchNums.length, INPUTS);

  it('gives image i of seed s the noise of image 0 of seed s + i, whatever the batch', () => {
    const seeds = imageSeeds(100, 3);
    const batched = all(
      new BatchNoise(
        CONFIG,
        seeds.map((seed) => ({ seed, moreSmooth: true })),
      ),
    );
    seeds.forEach((seed, row) => {
      const alone = all(new BatchNoise(CONFIG, [{ seed, moreSmooth: true }]));
      for (const { name, shape } of INPUTS) {
        const size = shape.reduce((a, b) => a * b, 1);
        assert.deepEqual(batched.get(name)!.subarray(row * size, (row + 1) * size), alone.get(name), `${name} row ${row}`);
      }
    });
  });

  it('does not let a neighbour row change a row (different seeds and flags)', () => {
    const a = all(
      new BatchNoise(CONFIG, [
        { seed: 7, moreSmooth: false },
        { seed: 9, moreSmooth: false },
      ]),
    );
    const b = all(
      new BatchNoise(CONFIG, [
        { seed: 7, moreSmooth: false },
        { seed: 1234, moreSmooth: true },
      ]),
    );
    assert.deepEqual(a.get('noise.s2')!.subarray(0, 9), b.get('noise.s2')!.subarray(0, 9));
    // Rows without more_smooth leave gumbel inputs at the placeholder.
    assert.ok(a.get('gumbel.s1')!.every((u) => u === UNUSED_NOISE));
    assert.ok(
      b
        .get('gumbel.s1')!
        .subarray(20, 40)
        .some((u) => u !== UNUSED_NOISE),
    );
  });

  it('draws the same values scale by scale as in one go', () => {
    const rows = [
      { seed: 5, moreSmooth: true },
      { seed: 6, moreSmooth: false },
    ];
    const once = all(new BatchNoise(CONFIG, rows));
    const stepwise = new BatchNoise(CONFIG, rows);
    for (let si = 0; si < CONFIG.patchNums.length; si++) {
      const part = stepwise.draw(
        si,
        si + 1,
        INPUTS.filter((d) => d.name.endsWith(`s${si}`)),
      );
      for (const [name, values] of part) assert.deepEqual(values, once.get(name), name);
    }
  });

  it('keeps later tensors stable when the graph takes fewer inputs', () => {
    const rows = [{ seed: 11, moreSmooth: true }];
    const full = all(new BatchNoise(CONFIG, rows));
    const tokensOnly = new BatchNoise(CONFIG, rows).draw(0, 3, noisePlan(CONFIG, false));
    assert.deepEqual(tokensOnly.get('noise.s2'), full.get('noise.s2'));
  });

  it('insists on drawing scales in order', () => {
    const noise = new BatchNoise(CONFIG, [{ seed: 1, moreSmooth: false }]);
    assert.throws(() => noise.draw(1, 2, INPUTS), /in order/);
  });
});
