import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it, before } from 'node:test';
import { fixturePath } from '../testing/fixtures.ts';
import { ClipTokenizer } from './clip-tokenizer.ts';

// star-tiny's committed tokenizer (gpu-service/scripts/make-tiny-tokenizer.ts) against the real one.
const TINY_DIR = fileURLToPath(new URL('../../../models/star-tiny/tokenizer/', import.meta.url));
const FULL_DIR = `${fixturePath('clip-tokenizer')}/`;

const prompts: string[] = readFileSync(`${FULL_DIR}cases.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line).prompt);

function tokenStrings(dir: string): string[] {
  const vocab = JSON.parse(readFileSync(`${dir}vocab.json`, 'utf8')) as Record<string, number>;
  const byId: string[] = [];
  for (const [token, id] of Object.entries(vocab)) byId[id] = token;
  return byId;
}

describe("star-tiny's tokenizer (CLIP's BPE cut to 2048 ids)", () => {
  let tiny: ClipTokenizer;
  let full: ClipTokenizer;
  before(async () => {
    [tiny, full] = await Promise.all([ClipTokenizer.fromFiles(TINY_DIR), ClipTokenizer.fromFiles(FULL_DIR)]);
  });

  it('has 2048 ids with BOS and EOS last and the same pad and length', () => {
    assert.deepEqual([tiny.vocabSize, tiny.bosId, tiny.eosId, tiny.padId, tiny.maxLength], [2048, 2046, 2047, 0, 77]);
  });

  it('spells every reference prompt with the same bytes and word ends as the full vocabulary', () => {
    const tinyTokens = tokenStrings(TINY_DIR);
    const fullTokens = tokenStrings(FULL_DIR);
    for (const prompt of prompts) {
      const tinyIds = tiny.tokenize(prompt);
      assert.ok(
        tinyIds.every((id) => id < tiny.vocabSize),
        prompt,
      );
      assert.equal(
        tinyIds.map((id) => tinyTokens[id]).join(''),
        full
          .tokenize(prompt)
          .map((id) => fullTokens[id])
          .join(''),
        prompt,
      );
    }
  });

  it('gives the same ids as the full vocabulary when every full id is in the kept range', () => {
    let compared = 0;
    for (const prompt of prompts) {
      const fullIds = full.tokenize(prompt);
      if (fullIds.some((id) => id >= 2046)) continue;
      assert.deepEqual(tiny.tokenize(prompt), fullIds, prompt);
      compared++;
    }
    assert.ok(compared >= 50, `only ${compared} prompts compared`);
  });
});
