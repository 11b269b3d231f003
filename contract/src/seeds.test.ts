import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageSeeds } from './seeds.ts';

test('image i of seed s has seed s + i, wrapping at 2^32', () => {
  assert.deepEqual(imageSeeds(7, 3), [7, 8, 9]);
  assert.deepEqual(imageSeeds(0xffff_fffe, 4), [0xffff_fffe, 0xffff_ffff, 0, 1]);
});
