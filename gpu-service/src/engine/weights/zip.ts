// Just enough of the ZIP format to read torch.save archives: the central
// directory (with ZIP64 for files over 4 GiB or 65535 entries) and the data
// offset of each entry, so stored (uncompressed) entries can be read in place
// without loading the archive. Deflated entries are inflated on demand (torch
// never writes them, but a re-zipped checkpoint may have them).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  headerOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

export class ZipArchive {
  readonly path: string;
  readonly size: number;
  readonly entries: Map<string, ZipEntry>;

  private constructor(path: string, size: number, entries: Map<string, ZipEntry>) {
    this.path = path;
    this.size = size;
    this.entries = entries;
  }

  static open(path: string): ZipArchive {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      return new ZipArchive(path, size, readCentralDirectory(fd, size, path));
    } finally {
      closeSync(fd);
    }
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.path}: the archive has no entry ${name}`);
    return e;
  }

  /** File offset of a stored entry's first data byte. */
  dataOffset(entry: ZipEntry): number {
    const fd = openSync(this.path, 'r');
    try {
      const header = readAt(fd, entry.headerOffset, 30, this.path);
      if (header.readUInt32LE(0) !== LOCAL) throw new Error(`${this.path}: bad local header for ${entry.name}`);
      return entry.headerOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    } finally {
      closeSync(fd);
    }
  }

  /** The whole (decompressed) content of a small entry. */
  read(name: string): Buffer {
    const e = this.entry(name);
    const start = this.dataOffset(e);
    if (start + e.compressedSize > this.size)
      throw new Error(`${this.path}: entry ${name} is truncated (needs ${start + e.compressedSize} bytes, file has ${this.size})`);
    const fd = openSync(this.path, 'r');
    try {
      const raw = readAt(fd, start, e.compressedSize, this.path);
      if (e.method === 0) return raw;
      if (e.method === 8) return inflateRawSync(raw);
      throw new Error(`${this.path}: entry ${name} uses compression method ${e.method}; only stored and deflate are supported`);
    } finally {
      closeSync(fd);
    }
  }
}

export function readAt(fd: number, position: number, length: number, path: string): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) throw new Error(`${path}: unexpected end of file at byte ${position + done} (truncated?)`);
    done += n;
  }
  return buf;
}

function readCentralDirectory(fd: number, size: number, path: string): Map<string, ZipEntry> {
  const tailLength = Math.min(size, 22 + U16_MAX);
  if (size < 22) throw new Error(`${path}: not a zip archive (too short); torch.save files since torch 1.6 are zip archives`);
  const tail = readAt(fd, size - tailLength, tailLength, path);
  let eocd = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    throw new Error(
      `${path}: not a zip archive (no end-of-central-directory record); legacy (pre-1.6) torch.save files and truncated downloads are not readable`,
    );
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const locatorAt = size - tailLength + eocd - 20;
    const locator = readAt(fd, locatorAt, 20, path);
    if (locator.readUInt32LE(0) !== ZIP64_LOCATOR) throw new Error(`${path}: ZIP64 archive without a ZIP64 locator`);
    const recordAt = Number(locator.readBigUInt64LE(8));
    const record = readAt(fd, recordAt, 56, path);
    if (record.readUInt32LE(0) !== ZIP64_EOCD) throw new Error(`${path}: bad ZIP64 end-of-central-directory record`);
    count = Number(record.readBigUInt64LE(32));
    cdSize = Number(record.readBigUInt64LE(40));
    cdOffset = Number(record.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > size) throw new Error(`${path}: central directory lies beyond the end of the file (truncated?)`);
  const cd = readAt(fd, cdOffset, cdSize, path);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (cd.readUInt32LE(p) !== CENTRAL) throw new Error(`${path}: corrupt central directory at entry ${i}`);
    const method = cd.readUInt16LE(p + 10);
    let compressedSize = cd.readUInt32LE(p + 20);
    let entrySize = cd.readUInt32LE(p + 24);
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    let headerOffset = cd.readUInt32LE(p + 42);
    const name = cd.toString('utf8', p + 46, p + 46 + nameLength);
    // ZIP64 extended information: only the fields that overflowed, in this order.
    let q = p + 46 + nameLength;
    const extraEnd = q + extraLength;
    while (q + 4 <= extraEnd) {
      const id = cd.readUInt16LE(q);
      const length = cd.readUInt16LE(q + 2);
      if (id === 0x0001) {
        let r = q + 4;
        if (entrySize === U32_MAX) {
          entrySize = Number(cd.readBigUInt64LE(r));
          r += 8;
        }
        if (compressedSize === U32_MAX) {
          compressedSize = Number(cd.readBigUInt64LE(r));
          r += 8;
        }
        if (headerOffset === U32_MAX) {
          headerOffset = Number(cd.readBigUInt64LE(r));
          r += 8;
        }
      }
      q += 4 + length;
    }
    entries.set(name, { name, method, compressedSize, size: entrySize, headerOffset });
    p = extraEnd + commentLength;
  }
  return entries;
}
