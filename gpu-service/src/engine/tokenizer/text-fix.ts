// ftfy's `fix_text` with its default configuration (ftfy 6.3.1), which HF's
// CLIPTokenizer runs on every prompt when ftfy is installed. A port of the
// behaviour, step for step, because the token ids depend on it: mojibake
// ("cafÃ©") is repaired, curly quotes straightened, HTML entities decoded,
// full-width forms and Latin ligatures expanded, control characters dropped,
// NFC applied. Names follow ftfy's so the two can be read side by side.

import { HTML_ENTITIES } from './html-entities.ts';
import { CHARMAPS, MOJIBAKE_CATEGORIES as C, UTF8_CLUES as U } from './mojibake-tables.ts';

/** ftfy.fix_text: fixes each line on its own until nothing changes. */
export function fixText(text: string): string {
  let unescapeHtml = true;
  let out = '';
  for (let pos = 0; pos < text.length; ) {
    let lineEnd = text.indexOf('\n', pos) + 1;
    if (lineEnd === 0) lineEnd = text.length;
    lineEnd = Math.min(lineEnd, pos + MAX_DECODE_LENGTH);
    const segment = text.slice(pos, lineEnd);
    // "auto": text that looks like HTML keeps its entities; once seen, the
    // rest of the text keeps them too (ftfy carries the setting forward).
    if (segment.includes('<')) unescapeHtml = false;
    out += fixSegment(segment, unescapeHtml);
    pos = lineEnd;
  }
  return out;
}

/** ftfy's segment bound, in UTF-16 units here (code points there; only matters past 1M). */
const MAX_DECODE_LENGTH = 1_000_000;

function fixSegment(text: string, unescapeHtml: boolean): string {
  for (;;) {
    const original = text;
    if (unescapeHtml) text = unescapeHtmlEntities(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = text.toWellFormed(); // fix_surrogates: JS strings already pair them; lone ones → U+FFFD
    text = text.replace(TERMINAL_ESCAPE, '');
    text = text.replace(CONTROL_CHARS, '');
    text = text.normalize('NFC');
    if (text === original) return text;
  }
}

// ---------------------------------------------------------------------------
// Simple character fixes

const HTML_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
const HTML_ENTITY_MAP = new Map(Object.entries(HTML_ENTITIES));

/** Decodes named references from the table and numeric ones, only when they end in ";". */
export function unescapeHtmlEntities(text: string): string {
  return text.replace(HTML_ENTITY, (ref) => {
    const named = HTML_ENTITY_MAP.get(ref.slice(1, -1));
    if (named !== undefined) return named;
    return ref.startsWith('&#') ? (decodeNumericReference(ref.slice(2, -1)) ?? ref) : ref;
  });
}

/**
 * Python's html.unescape for "&#…;": decimal or x/X hex, C1 numbers read as
 * Windows-1252 (its five holes kept as C1), invalid numbers → U+FFFD, non-characters → "". Null when
 * html.unescape would not consume the whole reference.
 */
function decodeNumericReference(body: string): string | null {
  const hex = /^[xX]([0-9a-fA-F]+)$/.exec(body);
  if (!hex && !/^[0-9]+$/.test(body)) return null;
  const value = hex ? parseInt(hex[1], 16) : parseInt(body, 10);
  if (value === 0) return '\ufffd';
  if (value === 0x0d) return '\r';
  if (value >= 0x80 && value <= 0x9f) return SLOPPY_1252[value - 0x80];
  if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff) return '\ufffd';
  const invalid =
    (value >= 0x01 && value <= 0x08) ||
    value === 0x0b ||
    (value >= 0x0e && value <= 0x1f) ||
    (value >= 0x7f && value <= 0x9f) ||
    (value >= 0xfdd0 && value <= 0xfdef) ||
    (value & 0xfffe) === 0xfffe;
  return invalid ? '' : String.fromCodePoint(value);
}

const LIGATURES: Record<string, string> = {
  Ĳ: 'IJ',
  ĳ: 'ij',
  ŉ: 'ʼn',
  Ǳ: 'DZ',
  ǲ: 'Dz',
  ǳ: 'dz',
  Ǆ: 'DŽ',
  ǅ: 'Dž',
  ǆ: 'dž',
  Ǉ: 'LJ',
  ǈ: 'Lj',
  ǉ: 'lj',
  Ǌ: 'NJ',
  ǋ: 'Nj',
  ǌ: 'nj',
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
  ﬅ: 'ſt',
  ﬆ: 'st',
};
const LIGATURE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');

function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE, (ch) => LIGATURES[ch]);
}

// Half- and full-width forms (U+FF01–U+FFEF) → their NFKC form; U+3000 → space.
const FULL_WIDTH = /[\u3000\uff01-\uffef]/g;

function fixCharacterWidth(text: string): string {
  return text.replace(FULL_WIDTH, (ch) => (ch === '\u3000' ? ' ' : ch.normalize('NFKC')));
}

function uncurlQuotes(text: string): string {
  return text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
}

function fixLineBreaks(text: string): string {
  return text.replace(/\r\n|[\r\u2028\u2029\x85]/g, '\n');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what a terminal escape starts with
const TERMINAL_ESCAPE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
// Control characters nobody means to type; tab, line breaks, form feed, C1
// (a mojibake clue) and joiners/direction marks are kept.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these control characters are what it removes
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

// ---------------------------------------------------------------------------
// Mojibake: text that was UTF-8, decoded with a single-byte code page

const C1_CONTROL = /[\x80-\x9f]/g;

function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROL, (ch) => SLOPPY_1252[ch.charCodeAt(0) - 0x80]);
}

/** fix_encoding: one re-decoding step at a time until the text stops changing. */
export function fixEncoding(text: string): string {
  for (;;) {
    const fixed = fixEncodingOnce(text);
    if (fixed === text) return text;
    text = fixed;
  }
}

function fixEncodingOnce(text: string): string {
  if (text === '' || /^\p{ASCII}*$/u.test(text) || !isBad(text)) return text;

  // Most likely: UTF-8 read as a single-byte encoding. The first encoding
  // that maps the text back to valid UTF-8 wins.
  const possible: string[] = [];
  for (const charmap of CHARMAP_CODECS) {
    if (!charmap.canEncode(text)) continue;
    possible.push(charmap.name);
    let bytes = charmap.encode(text);
    if (charmap.name !== 'macroman' && ALTERED_UTF8.test(bytes)) bytes = restoreByteA0(bytes);
    if (charmap.name.startsWith('sloppy')) bytes = bytes.replace(LOSSY_UTF8, '\xef\xbf\xbd');
    const decoded = /[\xed\xc0]/.test(bytes) ? decodeUtf8Variants(bytes) : decodeUtf8(bytes);
    if (decoded !== null) return decoded;
  }

  // Mojibake embedded in otherwise good text: fix the pieces.
  if (UTF8_DETECTOR.test(text)) {
    const fixed = text.replace(UTF8_DETECTOR_ALL, (piece) => (piece.length < text.length && isBad(piece) ? fixEncoding(piece) : piece));
    if (fixed !== text) return fixed;
  }

  // Latin-1 text with C1 controls was probably meant as Windows-1252. (ftfy
  // checks for "windows-1252" in a list that only ever holds the "sloppy-"
  // name, so this always runs; kept that way to match it.)
  if (possible.includes('latin-1')) {
    const fixed = decodeStrictWindows1252(text);
    if (fixed !== null && fixed !== text) return fixed;
  }
  if (/[\x80-\x9f]/.test(text)) return fixC1Controls(text);
  return text;
}

const CLASS = (...parts: string[]) => `[${parts.join('')}]`;
// Python's \s (str.isspace) and \w, which JS spells differently.
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_WORD = '[\\p{L}\\p{N}_]';
const ARABIC_TAIL = CLASS(C.common, C.currency, C.bad, C.numeric, C.startPunctuation, '\u0178\u0160\xae\xb0\xb5\xbb');

/**
 * ftfy's BADNESS_RE: juxtapositions of characters that are far more likely
 * mojibake than intended text, e.g. an accented lower-case letter followed
 * by a currency sign. Alternatives in ftfy's order.
 */
const BADNESS = new RegExp(
  [
    CLASS(C.c1),
    CLASS(C.bad, C.lowerAccented, C.upperAccented, C.box, C.startPunctuation, C.endPunctuation, C.currency, C.numeric, C.law) +
      CLASS(C.bad),
    `[a-zA-Z]${CLASS(C.lowerCommon, C.upperCommon)}${CLASS(C.bad)}`,
    CLASS(C.bad) + CLASS(C.lowerAccented, C.upperAccented, C.box, C.startPunctuation, C.endPunctuation, C.currency, C.numeric, C.law),
    CLASS(C.lowerAccented, C.lowerCommon, C.box, C.endPunctuation, C.currency, C.numeric) + CLASS(C.upperAccented),
    CLASS(C.box, C.endPunctuation, C.currency, C.numeric) + CLASS(C.lowerAccented),
    CLASS(C.lowerAccented, C.box, C.endPunctuation) + CLASS(C.currency),
    PY_SPACE + CLASS(C.upperAccented) + CLASS(C.currency),
    CLASS(C.upperAccented, C.box) + CLASS(C.numeric, C.law),
    CLASS(C.lowerAccented, C.upperAccented, C.box, C.currency, C.endPunctuation) + CLASS(C.startPunctuation) + CLASS(C.numeric),
    CLASS(C.lowerAccented, C.upperAccented, C.currency, C.numeric, C.box, C.law) + CLASS(C.endPunctuation) + CLASS(C.startPunctuation),
    CLASS(C.currency, C.numeric, C.box) + CLASS(C.startPunctuation),
    `[a-z]${CLASS(C.upperAccented)}${CLASS(C.startPunctuation, C.currency)}`,
    CLASS(C.box) + CLASS(C.kaomoji),
    CLASS(C.lowerAccented, C.upperAccented, C.currency, C.numeric, C.startPunctuation, C.endPunctuation, C.law) + CLASS(C.box),
    CLASS(C.box) + CLASS(C.endPunctuation),
    CLASS(C.lowerAccented, C.upperAccented) + CLASS(C.startPunctuation, C.endPunctuation) + PY_WORD,
    // The ligature œ not followed by an unaccented Latin letter.
    '[\u0152\u0153][^A-Za-z]',
    // A degree sign after a capital letter.
    `${CLASS(C.upperAccented)}\xb0`,
    // Common two-character Windows-1252 mojibake not covered above.
    '[\xc2\xc3\xce\xd0]' +
      CLASS(
        '\u20ac\u0153\u0160\u0161\xa2\xa3\u0178\u017e\xa0\xad\xae\xa9\xb0\xb7\xbb',
        C.startPunctuation,
        C.endPunctuation,
        '\u2013\u2014\xb4',
      ),
    '\xd7[\xb2\xb3]',
    // Windows-1252 mojibake of Arabic: four characters, because the 'common' ones are allowed.
    `[\xd8\xd9]${ARABIC_TAIL}[\xd8\xd9]${ARABIC_TAIL}`,
    // Windows-1252 starts of three-character sequences for South Asian scripts.
    '\xe0[\xb2\xb5\xb9\xbc\xbd\xbe]',
    // MacRoman mojibake.
    '\u221a[\xb1\u2202\u2020\u2260\xae\u2122\xb4\u2264\u2265\xa5\xb5\xf8]',
    '\u2248[\xb0\xa2]',
    '\u201a\xc4[\xec\xee\xef\xf2\xf4\xfa\xf9\xfb\u2020\xb0\xa2\u03c0]',
    '\u201a[\xe2\xf3][\xe0\xe4\xb0\xea]',
    // Windows-1251 mojibake of U+2000… characters, of Latin-1 and of Cyrillic.
    '\u0432\u0402',
    '[\u0412\u0413\u0420\u0421]' +
      CLASS(C.c1, C.bad, C.startPunctuation, C.endPunctuation, C.currency, '\xb0\xb5') +
      '[\u0412\u0413\u0420\u0421]',
    '\u0413\u045e\u0412\u0402\u0412[^\\n][A-Za-z ]',
    // Windows-1252 encodings of 'à' and 'á', and of U+00A0 itself.
    '\xc3[\xa0\xa1]',
    `[a-z]${PY_SPACE}?[\xc3\xc2] `,
    '^[\xc3\xc2] ',
    // Â before a character that it encodes along with itself.
    `${CLASS('a-z.,?!', C.endPunctuation)}\xc2${CLASS(' ', C.startPunctuation, C.endPunctuation)}`,
    // Windows-1253 mojibake of U+2000… characters, of Latin-1 and of Greek.
    '\u03b2\u20ac[\u2122\xa0\u0386\xad\xae\xb0]',
    '[\u0392\u0393\u039e\u039f]' +
      CLASS(C.c1, C.bad, C.startPunctuation, C.endPunctuation, C.currency, '\xb0') +
      '[\u0392\u0393\u039e\u039f]',
    // Windows-1257 mojibake of U+2000… characters.
    '\u0101\u20ac',
  ].join('|'),
  'u',
);

export function isBad(text: string): boolean {
  return BADNESS.test(text);
}

/**
 * ftfy's UTF8_DETECTOR_RE: runs of characters that look like single-byte
 * decodings of UTF-8 sequences, not preceded by a continuation-like
 * character (so a few letters inside a big garble are left alone).
 */
const UTF8_DETECTOR_SOURCE =
  `(?<!${CLASS(U.continuationStrict)})(?:` +
  `${CLASS(U.firstOf2)}${CLASS(U.continuation)}` +
  `|${CLASS(U.firstOf3)}${CLASS(U.continuation)}{2}` +
  `|${CLASS(U.firstOf4)}${CLASS(U.continuation)}{3})+`;
// Two objects: a global regex keeps state between test() calls.
const UTF8_DETECTOR = new RegExp(UTF8_DETECTOR_SOURCE, 'u');
const UTF8_DETECTOR_ALL = new RegExp(UTF8_DETECTOR_SOURCE, 'gu');

// Byte strings below hold one byte per UTF-16 unit (0x00–0xFF), so regexes
// written for Python bytes apply unchanged.

/** UTF-8 sequences that would be valid if a space were the 0xA0 it replaced. */
const ALTERED_UTF8_SOURCE =
  '[\\xc2\\xc3\\xc5\\xce\\xd0\\xd9] ' +
  '|[\\xe2\\xe3] [\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf]' +
  '|[\\xe0-\\xe3][\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf] ' +
  '|\\xf0 [\\x80-\\xbf][\\x80-\\xbf]' +
  '|\\xf0[\\x80-\\xbf] [\\x80-\\xbf]' +
  '|\\xf0[\\x80-\\xbf][\\x80-\\xbf] ';
const ALTERED_UTF8 = new RegExp(ALTERED_UTF8_SOURCE);
const ALTERED_UTF8_ALL = new RegExp(ALTERED_UTF8_SOURCE, 'g');
// "Ã la" is "à la": keep the space after an à that stands alone, except
// before the Portuguese "às", "àquele", "àquela", "àquilo".
const A_GRAVE_WORD = /\xc3 (?! |quele|quela|quilo|s )/g;

function restoreByteA0(bytes: string): string {
  return bytes.replace(A_GRAVE_WORD, '\xc3\xa0 ').replace(ALTERED_UTF8_ALL, (seq) => seq.replaceAll(' ', '\xa0'));
}

/**
 * UTF-8 sequences with a lost byte: 0x1A stands for a byte a sloppy codec
 * could only decode as U+FFFD, "?" for one a lossy conversion dropped.
 * Each becomes the UTF-8 of U+FFFD.
 */
const LOSSY_UTF8 = new RegExp(
  [
    '[\\xc2-\\xdf]\\x1a',
    '[\\xc2-\\xc3]\\?',
    '\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]',
    '\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]',
    '[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]',
    '[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]',
    '\\x1a',
  ].join('|'),
  'g',
);

const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function toBytes(byteString: string): Uint8Array {
  return Uint8Array.from(byteString, (ch) => ch.charCodeAt(0));
}

/** Strict UTF-8, like Python's bytes.decode("utf-8"); null where that raises. */
function decodeUtf8(byteString: string): string | null {
  try {
    return UTF8_DECODER.decode(toBytes(byteString));
  } catch {
    return null;
  }
}

// Python's `$` matches at the end or before a final "\n"; ftfy's bytes
// patterns rely on that meaning.
const END = '(?=\\n?$)';
const CESU8 = new RegExp(
  `^\\xed(?:[\\xa0-\\xaf]|${END})(?:[\\x80-\\xbf]|${END})(?:\\xed|${END})(?:[\\xb0-\\xbf]|${END})(?:[\\x80-\\xbf]|${END})`,
);
const UTF8_VARIANT_START = new RegExp(
  `\\xc0(?:\\x80|${END})|${CESU8.source.slice(1)}|\\xed(?:[\\xa0-\\xbf]|${END})(?:[\\x80-\\xbf]|${END})`,
);

/**
 * ftfy's "utf-8-variants" codec: UTF-8 that may also hold CESU-8 surrogate
 * pairs (six bytes per astral character) and Java's two-byte null (C0 80).
 * Null where it raises.
 */
function decodeUtf8Variants(bytes: string): string | null {
  let out = '';
  while (bytes.length > 0) {
    const match = UTF8_VARIANT_START.exec(bytes);
    const plainEnd = match === null ? bytes.length : match.index;
    if (plainEnd > 0) {
      const plain = decodeUtf8(bytes.slice(0, plainEnd));
      if (plain === null) return null;
      out += plain;
      bytes = bytes.slice(plainEnd);
      continue;
    }
    if (bytes.startsWith('\xc0')) {
      if (bytes.length === 1) return null;
      out += '\0';
      bytes = bytes.slice(2);
    } else if (bytes.length >= 6 && CESU8.test(bytes)) {
      const b = toBytes(bytes.slice(0, 6));
      out += String.fromCodePoint(((b[1] & 0x0f) << 16) + ((b[2] & 0x3f) << 10) + ((b[4] & 0x0f) << 6) + (b[5] & 0x3f) + 0x10000);
      bytes = bytes.slice(6);
    } else {
      return null; // an encoded lone surrogate: strict UTF-8 rejects it
    }
  }
  return out;
}

interface CharmapCodec {
  name: string;
  canEncode(text: string): boolean;
  /** Text → byte string; only call when canEncode(text). */
  encode(text: string): string;
}

/** U+FFFD is what a sloppy codec decodes byte 0x1A to (and encodes back). */
const SUBSTITUTE = '\x1a';

function charmapCodec(name: string, high: string): CharmapCodec {
  const toByte = new Map<string, number>();
  for (let b = 0; b < 0x80; b++) toByte.set(String.fromCharCode(b), b);
  if (name.startsWith('sloppy')) {
    toByte.delete(SUBSTITUTE);
    toByte.set('\ufffd', 0x1a);
  }
  for (const [i, ch] of [...high].entries()) toByte.set(ch, 0x80 + i);
  return {
    name,
    canEncode: (text) => {
      for (const ch of text) if (!toByte.has(ch)) return false;
      return true;
    },
    encode: (text) => {
      let bytes = '';
      for (const ch of text) {
        const byte = toByte.get(ch);
        if (byte === undefined) throw new Error(`${name} cannot encode ${JSON.stringify(ch)}`);
        bytes += String.fromCharCode(byte);
      }
      return bytes;
    },
  };
}

function charmapHigh(name: string): string {
  const charmap = CHARMAPS.find((c) => c.name === name);
  if (!charmap) throw new Error(`no charmap named ${name}`);
  return charmap.high;
}

const CHARMAP_CODECS = CHARMAPS.map(({ name, high }) => charmapCodec(name, high));
const SLOPPY_1252 = [...charmapHigh('sloppy-windows-1252')];
// Strict Windows-1252 leaves five bytes undefined; the sloppy table has them as C1 controls.
const UNDEFINED_IN_1252 = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

/** text.encode("latin-1").decode("windows-1252"); null where that raises. */
function decodeStrictWindows1252(text: string): string | null {
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (code < 0x80 || code > 0x9f) out += ch;
    else if (UNDEFINED_IN_1252.has(code)) return null;
    else out += SLOPPY_1252[code - 0x80];
  }
  return out;
}
