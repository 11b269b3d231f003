import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, before } from 'node:test';
import { fixturePath } from '../testing/fixtures.ts';
import { ClipTokenizer } from './clip-tokenizer.ts';

// The real SD-2.1 vocabulary and HF's ids for 186 prompts (../shared/fixtures beside the repository).
const FIXTURE_DIR = `${fixturePath('clip-tokenizer')}/`;

interface Case {
  prompt: string;
  ids: number[];
  attention_mask: number[];
  length: number;
}

const cases: Case[] = readFileSync(`${FIXTURE_DIR}cases.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line));

describe("ClipTokenizer with SD-2.1's files", () => {
  let tokenizer: ClipTokenizer;
  before(async () => {
    tokenizer = await ClipTokenizer.fromFiles(FIXTURE_DIR);
  });

  it('reproduces every id and mask of every reference prompt', () => {
    const failures: string[] = [];
    for (const c of cases) {
      const { ids, attentionMask, eosIndex } = tokenizer.encode(c.prompt);
      const same =
        ids.length === 77 &&
        c.ids.every((id, i) => ids[i] === id) &&
        c.attention_mask.every((m, i) => attentionMask[i] === m) &&
        eosIndex === c.ids.indexOf(49407);
      if (!same) failures.push(`${JSON.stringify(c.prompt)}: got [${ids.slice(0, c.length + 1)}], want [${c.ids.slice(0, c.length + 1)}]`);
    }
    assert.equal(cases.length, 186);
    assert.deepEqual(failures, [], `${cases.length - failures.length}/${cases.length} prompts exact`);
  });

  it("reads BOS, EOS, pad and length from the files, with the pad token '!' winning over the config", () => {
    assert.deepEqual([tokenizer.bosId, tokenizer.eosId, tokenizer.padId, tokenizer.maxLength], [49406, 49407, 0, 77]);
  });

  it('encodes the empty prompt as BOS, EOS, padding', () => {
    const { ids, attentionMask, eosIndex } = tokenizer.encode('');
    assert.deepEqual([...ids.slice(0, 3)], [49406, 49407, 0]);
    assert.deepEqual([...attentionMask.slice(0, 3)], [1, 1, 0]);
    assert.equal(eosIndex, 1);
  });

  it('truncates to 75 tokens and still ends with EOS', () => {
    const { ids, attentionMask, eosIndex } = tokenizer.encode('cat '.repeat(100));
    assert.equal(ids[76], 49407);
    assert.equal(eosIndex, 76);
    assert.ok(attentionMask.every((m) => m === 1));
    assert.ok(ids.slice(1, 76).every((id) => id === 2368));
  });

  it("skips U+0345 between words as Python's case-insensitive regex does", () => {
    assert.deepEqual([...tokenizer.encode('a\u0345b').ids.slice(0, 5)], [49406, 320, 321, 49407, 0]);
  });

  it('lays a batch out as int64 rows for the text encoder', () => {
    const batch = tokenizer.encodeBatch(['a photo of a cat', '']);
    assert.equal(batch.count, 2);
    assert.equal(batch.inputIds.length, 2 * 77);
    assert.deepEqual([...batch.inputIds.slice(0, 8)], [49406n, 320n, 1125n, 539n, 320n, 2368n, 49407n, 0n]);
    assert.deepEqual([...batch.inputIds.slice(77, 80)], [49406n, 49407n, 0n]);
    assert.deepEqual([...batch.attentionMask.slice(75, 80)], [0n, 0n, 1n, 1n, 0n]);
    assert.deepEqual(batch.eosIndices, [6, 1]);
  });
});
