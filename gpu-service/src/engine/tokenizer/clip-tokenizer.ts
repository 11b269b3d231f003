/**
 * CLIP's tokenizer, exactly as Hugging Face's *slow* `CLIPTokenizer` behaves
 * with SD-2.1's tokenizer folder (STAR-SPEC §2.1) and ftfy installed:
 *
 * 1. Split the raw text on the special tokens (case-sensitive). SD-2.1 makes
 *    the pad token "!" special, so every "!" becomes its own pad id.
 * 2. Each other piece: ftfy's `fix_text` (./text-fix.ts), whitespace runs →
 *    one space, trim, lower-case.
 * 3. Pre-tokenize with CLIP's regex (contractions, letter runs, single
 *    digits, other-symbol runs), then byte-level BPE (./bpe.ts).
 * 4. Keep the first 75 ids, wrap them in BOS … EOS and pad to 77; the
 *    attention mask is 1 from BOS to EOS.
 *
 * Every id (BOS, EOS, pad, unknown) comes from the tokenizer files, so the
 * same class loads the real 49408-entry vocabulary and star-tiny's small one.
 * Reference: ../shared/fixtures/clip-tokenizer (186 prompts → ids, all exact).
 * Known gap: case mapping, NFC and \p{L} follow Node's Unicode version, so
 * characters assigned after the reference Python's (Unicode 14) may differ.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BytePairEncoder, parseMerges } from './bpe.ts';
import { fixText } from './text-fix.ts';

export interface EncodedText {
  /** `maxLength` ids: BOS, up to maxLength − 2 tokens, EOS, padding. */
  ids: Int32Array;
  /** 1 for BOS, tokens and EOS; 0 for padding. */
  attentionMask: Int32Array;
  /** Position of the first EOS id: where the text encoder's pooled output is read. */
  eosIndex: number;
}

/** A batch laid out as the ONNX text encoder's int64 inputs, both [count, maxLength] row-major. */
export interface EncodedBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  eosIndices: number[];
  count: number;
  maxLength: number;
}

/** The parts of tokenizer_config.json / special_tokens_map.json this class reads. */
export interface SpecialTokens {
  bos: string;
  eos: string;
  unk: string;
  pad: string;
  maxLength: number;
}

// HF's CLIP pattern (compiled there with regex.IGNORECASE). `\s` is spelled
// out as the Unicode White_Space set that Python's `regex` module uses: JS's
// own \s also matches U+FEFF and misses U+0085.
const WHITE_SPACE = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WORD_PATTERN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${WHITE_SPACE}\\p{L}\\p{N}]+`,
  'giu',
);
const WHITE_SPACE_RUN = new RegExp(`[${WHITE_SPACE}]+`, 'gu');
// Python's str.strip() removes what str.isspace() accepts, which adds U+001C–U+001F.
const EDGE_SPACE = new RegExp(`^[${WHITE_SPACE}\\x1c-\\x1f]+|[${WHITE_SPACE}\\x1c-\\x1f]+$`, 'gu');

/** HF's `whitespace_clean(fix_text(text)).lower()`. */
export function normalizeText(text: string): string {
  return fixText(text).replace(WHITE_SPACE_RUN, ' ').replace(EDGE_SPACE, '').toLowerCase();
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly maxLength: number;
  readonly vocabSize: number;
  private readonly specialIds: Map<string, number>;
  private readonly bpe: BytePairEncoder;

  constructor(vocab: Map<string, number>, mergeRanks: Map<string, number>, special: SpecialTokens) {
    const idOf = (token: string) => {
      const id = vocab.get(token);
      if (id === undefined) throw new Error(`special token ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    this.bosId = idOf(special.bos);
    this.eosId = idOf(special.eos);
    this.padId = idOf(special.pad);
    this.maxLength = special.maxLength;
    this.vocabSize = vocab.size;
    this.specialIds = new Map([special.bos, special.eos, special.unk, special.pad].map((t) => [t, idOf(t)]));
    // The regex lets "<|startoftext|>" and "<|endoftext|>" through as whole
    // words (e.g. from "<|ENDOFTEXT|>" after lower-casing); HF's BPE cache
    // starts with both, so they map straight to their ids.
    this.bpe = new BytePairEncoder(vocab, mergeRanks, idOf(special.unk), [special.bos, special.eos]);
  }

  /** Loads vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json from `dir`. */
  static async fromFiles(dir: string): Promise<ClipTokenizer> {
    const read = (name: string) => readFile(join(dir, name), 'utf8');
    const [vocabJson, mergesText, configJson, specialJson] = await Promise.all([
      read('vocab.json'),
      read('merges.txt'),
      read('tokenizer_config.json'),
      read('special_tokens_map.json'),
    ]);
    const vocab = new Map<string, number>(Object.entries(JSON.parse(vocabJson) as Record<string, number>));
    return new ClipTokenizer(vocab, parseMerges(mergesText), readSpecialTokens(JSON.parse(configJson), JSON.parse(specialJson)));
  }

  /**
   * Token ids of `text` without BOS/EOS or padding. With `limit`, stops once
   * that many are found: later words never change earlier tokens.
   */
  tokenize(text: string, limit = Infinity): number[] {
    const ids: number[] = [];
    for (const piece of this.splitOnSpecialTokens(text)) {
      if (ids.length >= limit) break;
      const specialId = this.specialIds.get(piece);
      if (specialId !== undefined) {
        ids.push(specialId);
        continue;
      }
      // U+0345 (combining ypogegrammeni) case-folds to a letter: Python's
      // `regex` then matches it with no alternative and skips it, JS takes it
      // as a letter. A space is skipped the same way and splits words alike.
      const normalized = normalizeText(piece).replaceAll('\u0345', ' ');
      for (const [word] of normalized.matchAll(WORD_PATTERN)) {
        for (const id of this.bpe.encodeWord(word)) ids.push(id);
        if (ids.length >= limit) break;
      }
    }
    return ids.slice(0, limit);
  }

  encode(text: string): EncodedText {
    const tokens = this.tokenize(text, this.maxLength - 2);
    const ids = new Int32Array(this.maxLength).fill(this.padId);
    const attentionMask = new Int32Array(this.maxLength);
    ids[0] = this.bosId;
    ids.set(tokens, 1);
    ids[tokens.length + 1] = this.eosId;
    attentionMask.fill(1, 0, tokens.length + 2);
    return { ids, attentionMask, eosIndex: ids.indexOf(this.eosId) };
  }

  encodeBatch(texts: readonly string[]): EncodedBatch {
    const inputIds = new BigInt64Array(texts.length * this.maxLength);
    const attentionMask = new BigInt64Array(texts.length * this.maxLength);
    const eosIndices = texts.map((text, row) => {
      const encoded = this.encode(text);
      const offset = row * this.maxLength;
      for (let i = 0; i < this.maxLength; i++) {
        inputIds[offset + i] = BigInt(encoded.ids[i]);
        attentionMask[offset + i] = BigInt(encoded.attentionMask[i]);
      }
      return encoded.eosIndex;
    });
    return { inputIds, attentionMask, eosIndices, count: texts.length, maxLength: this.maxLength };
  }

  /**
   * HF's added-token split: cut the raw text at every occurrence of a special
   * token (leftmost, longest first), keeping the tokens as their own pieces.
   */
  private splitOnSpecialTokens(text: string): string[] {
    const specials = [...this.specialIds.keys()].sort((a, b) => b.length - a.length);
    const pieces: string[] = [];
    let start = 0;
    for (let i = 0; i < text.length; ) {
      const special = specials.find((token) => text.startsWith(token, i));
      if (special === undefined) {
        i++;
        continue;
      }
      if (i > start) pieces.push(text.slice(start, i));
      pieces.push(special);
      i += special.length;
      start = i;
    }
    if (start < text.length) pieces.push(text.slice(start));
    return pieces;
  }
}

type TokenEntry = string | { content: string };

/** special_tokens_map.json wins over tokenizer_config.json, as in HF's `from_pretrained`. */
export function readSpecialTokens(config: Record<string, unknown>, specialMap: Record<string, unknown>): SpecialTokens {
  const token = (name: string): string => {
    const entry = (specialMap[name] ?? config[name]) as TokenEntry | undefined;
    const content = typeof entry === 'string' ? entry : entry?.content;
    if (typeof content !== 'string') throw new Error(`tokenizer files name no ${name}`);
    return content;
  };
  const maxLength = config.model_max_length;
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 2) {
    throw new Error(`tokenizer_config.json: model_max_length must be an integer ≥ 2, got ${JSON.stringify(maxLength)}`);
  }
  return { bos: token('bos_token'), eos: token('eos_token'), unk: token('unk_token'), pad: token('pad_token'), maxLength };
}
