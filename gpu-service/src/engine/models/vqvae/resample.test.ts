import assert from 'node:assert/strict';
import { test } from 'node:test';
import { areaDownsample, areaMatrix, bicubicMatrix } from './resample.ts';

const rows = (m: { outSize: number; inSize: number; data: Float32Array }) =>
  Array.from({ length: m.outSize }, (_, o) => [...m.data.subarray(o * m.inSize, (o + 1) * m.inSize)]);

test("bicubic 2→4 has torch's weights (A = −0.75, clamped taps)", () => {
  // Worked by hand from W1/W2 at τ = 0.75 and 0.25 (all values exact in fp32).
  assert.deepEqual(rows(bicubicMatrix(2, 4)), [
    [1.10546875, -0.10546875],
    [0.7734375, 0.2265625],
    [0.2265625, 0.7734375],
    [-0.10546875, 1.10546875],
  ]);
});

function assertIdentity(matrix: number[][]): void {
  for (const [o, r] of matrix.entries()) for (const [i, w] of r.entries()) assert.equal(w, o === i ? 1 : 0);
}

test('bicubic from 1×1 is a constant map and N→N is the identity', () => {
  for (const m of [bicubicMatrix(1, 8), bicubicMatrix(1, 16)]) for (const w of m.data) assert.ok(Math.abs(w - 1) < 1e-7);
  const id = bicubicMatrix(5, 5);
  assertIdentity(rows(id));
});

test('every bicubic row sums to 1 (within fp32 rounding)', () => {
  for (const [n, N] of [
    [2, 8],
    [3, 8],
    [5, 8],
    [13, 16],
    [48, 64],
    [27, 64],
  ]) {
    for (const r of rows(bicubicMatrix(n, N))) assert.ok(Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-6, `${n}→${N}`);
  }
});

test('area N→N is the identity, N→1 the mean, and windows overlap when N/n is not an integer', () => {
  assertIdentity(rows(areaMatrix(4, 4)));
  assert.deepEqual(rows(areaMatrix(4, 1)), [[0.25, 0.25, 0.25, 0.25]]);
  // 8 → 3: windows [0,3), [2,6), [5,8)
  const third = Math.fround(1 / 3);
  assert.deepEqual(rows(areaMatrix(8, 3)), [
    [third, third, third, 0, 0, 0, 0, 0],
    [0, 0, 0.25, 0.25, 0.25, 0.25, 0, 0],
    [0, 0, 0, 0, 0, third, third, third],
  ]);
});

test('areaDownsample in TS agrees with the area matrices', () => {
  const dims = [1, 2, 8, 8];
  const x = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i * 0.37) * 3);
  const out = areaDownsample(x, dims, 3);
  const m = areaMatrix(8, 3);
  for (let p = 0; p < 2; p++) {
    for (let oy = 0; oy < 3; oy++)
      for (let ox = 0; ox < 3; ox++) {
        let s = 0;
        for (let y = 0; y < 8; y++) for (let xx = 0; xx < 8; xx++) s += m.data[oy * 8 + y] * m.data[ox * 8 + xx] * x[p * 64 + y * 8 + xx];
        assert.ok(Math.abs(out[p * 9 + oy * 3 + ox] - s) < 1e-5);
      }
  }
});
