import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixText } from './text-fix.ts';

// Expected values are what ftfy 6.3.1's fix_text returns for the same input.
function expectFixes(cases: Array<[string, string]>) {
  for (const [input, expected] of cases) assert.equal(fixText(input), expected, JSON.stringify(input));
}

describe('fixText (ftfy.fix_text)', () => {
  it('repairs UTF-8 that was decoded as Latin-1 or Windows-1252, even twice over', () => {
    expectFixes([
      ['cafÃ©', 'café'],
      ['sÃ³', 'só'],
      ['naÃ¯ve', 'naïve'],
      ['âœ” No problems', '✔ No problems'],
      ['The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows.', "The Mona Lisa doesn't have eyebrows."],
    ]);
  });

  it('leaves text alone that only looks foreign', () => {
    expectFixes([
      ['crème brûlée', 'crème brûlée'],
      ['привет мир', 'привет мир'],
      ['½ ¾ ° ±', '½ ¾ ° ±'],
      ['Ångström', 'Ångström'],
    ]);
  });

  it("puts back a no-break space that became a space, and keeps 'à' a word of its own", () => {
    expectFixes([
      ['voilÃ le travail', 'voilà le travail'],
      ['Ã la mode', 'à la mode'],
    ]);
  });

  it('decodes lossy sequences to U+FFFD, CESU-8 to astral characters, C1 controls as Windows-1252', () => {
    expectFixes([
      ['â€œ like this â€\ufffd', '" like this \ufffd'],
      ['\xed\xa0\xbd\xed\xb8\x80 smile', '😀 smile'],
      ['\x93hi\x94', '"hi"'],
    ]);
  });

  it("decodes HTML references ending in ';', unless the line looks like HTML, and from then on", () => {
    expectFixes([
      ['fish &amp; chips', 'fish & chips'],
      ['&EACUTE;', 'É'],
      ['&notin; &not', '∉ &not'],
      ['&#39;s &#x2019; &#128; &#12a; &#0; &#11;', "'s ' € &#12a; \ufffd "],
      ['a<b\n&amp;', 'a<b\n&amp;'],
      ['&amp;\n<b>', '&\n<b>'],
    ]);
  });

  it('straightens quotes, splits Latin ligatures, narrows full-width forms', () => {
    expectFixes([
      ['don’t “quote”', 'don\'t "quote"'],
      ['ﬂubberiﬁc', 'flubberific'],
      ['ＬＯＵＤ\u3000ＮＯＩＳＥＳ ｶﾀｶﾅ', 'LOUD NOISES カタカナ'],
    ]);
  });

  it('drops control characters and terminal escapes, unifies line breaks, keeps direction marks', () => {
    expectFixes([
      ['a\x00b\x07c\x1b[31mred\x1b[0m\ufeff\u200f', 'abcred\u200f'],
      ['a\r\nb\u2028c', 'a\nb\nc'],
    ]);
  });

  it('applies NFC and replaces lone surrogates', () => {
    expectFixes([
      ['cafe\u0301', 'café'],
      ['a\ud800b', 'a\ufffdb'],
    ]);
  });
});
