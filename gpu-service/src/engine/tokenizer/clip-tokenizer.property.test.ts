import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import fc from 'fast-check';
import { fixturePath } from '../testing/fixtures.ts';
import { ClipTokenizer, normalizeText } from './clip-tokenizer.ts';

const FIXTURE_DIR = `${fixturePath('clip-tokenizer')}/`;

// Any code point, mixed with pieces that exercise the special paths: the pad
// token, special tokens, contractions, mojibake, entities, odd white space.
const promptUnit = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.constantFrom('!', '<|startoftext|>', "'s", "'LL", ' ', '\u3000', '\t\n', 'Ã©', '&amp;', 'ﬁ', '1', 'a', 'cat ', '\u0345', '👍🏽'),
);
// Half short, half long enough to be truncated at 75 tokens now and then.
const prompt = fc.oneof(fc.string({ unit: promptUnit, maxLength: 30 }), fc.string({ unit: promptUnit, minLength: 60, maxLength: 200 }));

describe('ClipTokenizer on any prompt', () => {
  let tokenizer: ClipTokenizer;
  before(async () => {
    tokenizer = await ClipTokenizer.fromFiles(FIXTURE_DIR);
  });

  it('gives maxLength ids: BOS, tokens, one EOS, then padding, with the mask covering BOS..EOS', () => {
    fc.assert(
      fc.property(prompt, (text) => {
        // A prompt that spells EOS itself (also via case, width or entities) has more than one.
        fc.pre(!normalizeText(text).includes('<|endoftext|>') && !text.includes('<|endoftext|>'));
        const { ids, attentionMask, eosIndex } = tokenizer.encode(text);
        const length = attentionMask.indexOf(0) === -1 ? 77 : attentionMask.indexOf(0);
        assert.equal(ids.length, 77);
        assert.equal(attentionMask.length, 77);
        assert.ok(length >= 2);
        assert.ok(attentionMask.every((m, i) => m === (i < length ? 1 : 0)));
        assert.equal(ids[0], tokenizer.bosId);
        assert.equal(eosIndex, length - 1);
        assert.equal(ids[eosIndex], tokenizer.eosId);
        assert.ok(ids.every((id, i) => (i === eosIndex) === (id === tokenizer.eosId)));
        assert.ok(ids.slice(length).every((id) => id === tokenizer.padId));
        assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the first 75 tokens of a long prompt', () => {
    fc.assert(
      fc.property(prompt, (text) => {
        const tokens = tokenizer.tokenize(text);
        const { ids } = tokenizer.encode(text);
        const kept = Math.min(tokens.length, 75);
        assert.deepEqual([...ids.slice(1, kept + 1)], tokens.slice(0, kept));
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a batch row for row as encode does', () => {
    fc.assert(
      fc.property(fc.array(prompt, { minLength: 1, maxLength: 4 }), (texts) => {
        const batch = tokenizer.encodeBatch(texts);
        texts.forEach((text, row) => {
          const one = tokenizer.encode(text);
          const slice = (a: BigInt64Array) => [...a.slice(row * 77, row * 77 + 77)].map(Number);
          assert.deepEqual(slice(batch.inputIds), [...one.ids]);
          assert.deepEqual(slice(batch.attentionMask), [...one.attentionMask]);
          assert.equal(batch.eosIndices[row], one.eosIndex);
        });
      }),
      { numRuns: 100 },
    );
  });
});
