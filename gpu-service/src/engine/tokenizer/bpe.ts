// Byte-level BPE as CLIP uses it: every UTF-8 byte is one printable symbol,
// the last symbol of a word carries "</w>", and merges are applied lowest
// rank first, each one across the whole word, left to right.

/** Suffix CLIP puts on the last symbol of every word. */
export const END_OF_WORD = '</w>';

/**
 * GPT-2's byte → symbol table: the 188 printable latin-1 bytes stand for
 * themselves, the other 68 bytes are shifted to U+0100… in byte order, so
 * every byte has a visible, whitespace-free symbol.
 */
export function byteSymbols(): string[] {
  const symbols: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    symbols[b] = String.fromCharCode(printable(b) ? b : 256 + shifted++);
  }
  return symbols;
}

/** The most merges HF's CLIPTokenizer reads (its slice bound: 49152 − 256 − 2). */
const MAX_MERGES = 49152 - 256 - 2;

const SIMPLE_PAIR = /^[^\s]+ [^\s]+$/;

/**
 * Parses merges.txt into pair → rank. Like HF's CLIPTokenizer, the first line
 * (the "#version" header) is skipped unread and at most MAX_MERGES are kept.
 * The key is "left right": symbols never contain a space.
 */
export function parseMerges(text: string): Map<string, number> {
  const lines = text.trim().split('\n');
  const count = Math.min(lines.length - 1, MAX_MERGES);
  const ranks = new Map<string, number>();
  for (let rank = 0; rank < count; rank++) {
    const line = lines[rank + 1];
    // Fast path for the usual "left right"; anything else is normalized as Python's split() would.
    ranks.set(SIMPLE_PAIR.test(line) ? line : line.trim().split(/\s+/).join(' '), rank);
  }
  return ranks;
}

export class BytePairEncoder {
  private readonly vocab: Map<string, number>;
  private readonly mergeRanks: Map<string, number>;
  private readonly unknownId: number;
  private readonly byteToSymbol = byteSymbols();
  private readonly encoder = new TextEncoder();
  /** Word → ids; words repeat a lot across prompts, and BPE is the slow part. */
  private readonly cache = new Map<string, number[]>();

  /** `wholeWords` are looked up as they are, never split (CLIP's special tokens). */
  constructor(vocab: Map<string, number>, mergeRanks: Map<string, number>, unknownId: number, wholeWords: string[]) {
    this.vocab = vocab;
    this.mergeRanks = mergeRanks;
    this.unknownId = unknownId;
    for (const word of wholeWords) this.cache.set(word, [this.idOf(word)]);
  }

  /** Ids of one pre-tokenized word (a regex match of the cleaned text). */
  encodeWord(word: string): number[] {
    let ids = this.cache.get(word);
    if (ids === undefined) {
      ids = this.merge(this.toSymbols(word)).map((symbol) => this.idOf(symbol));
      if (this.cache.size >= 100_000) this.cache.clear(); // bound memory on adversarial input
      this.cache.set(word, ids);
    }
    return ids;
  }

  private idOf(symbol: string): number {
    return this.vocab.get(symbol) ?? this.unknownId;
  }

  private toSymbols(word: string): string[] {
    const symbols = Array.from(this.encoder.encode(word), (b) => this.byteToSymbol[b]);
    symbols[symbols.length - 1] += END_OF_WORD;
    return symbols;
  }

  private merge(word: string[]): string[] {
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.mergeRanks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best];
      const second = word[best + 1];
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === first && word[i + 1] === second && i + 1 < word.length) {
          merged.push(first + second);
          i++;
        } else {
          merged.push(word[i]);
        }
      }
      word = merged;
    }
    return word;
  }
}
