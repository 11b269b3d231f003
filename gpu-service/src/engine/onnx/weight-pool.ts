// A content-addressed weights file shared by several cached graphs.
//
// The per-scale generator graphs of one model (one per scale, per batch size)
// all hold the same block weights. Written separately they would cost their
// size on disk and in the page cache once per graph (S × batch sizes × GBs
// for d16/d30). In a pool every distinct tensor is stored once: the graphs
// sit in the pool's folder (cache.ts) with external data pointing into
// `<pool>/weights.bin`, and onnxruntime's memory-mapped reads of the same
// file share one copy of every page.
//
// Tensors are identified by the sha256 of their bytes, so a pool can never
// hand a graph the wrong data. Cross-process safety: one builder at a time
// holds `<pool>/lock`; data is appended before the index that names it.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** Tensor offsets are page-aligned so onnxruntime can map each one directly. */
const ALIGNMENT = 4096;
const LOCK_WAIT_MS = 10 * 60_000;
const STALE_LOCK_MS = 30 * 60_000;

export const POOL_FILE = 'weights.bin';

export class WeightPool {
  readonly dir: string;
  private readonly index: Map<string, number>;
  private readonly lockPath: string;
  private fd: number;
  private size: number;
  private dirty = false;

  private constructor(dir: string, index: Map<string, number>, lockPath: string, fd: number, size: number) {
    this.dir = dir;
    this.index = index;
    this.lockPath = lockPath;
    this.fd = fd;
    this.size = size;
  }

  /** Opens (creating) the pool in `dir` and takes its lock; call `close()` when done. */
  static open(dir: string): WeightPool {
    mkdirSync(dir, { recursive: true });
    const lockPath = join(dir, 'lock');
    acquireLock(lockPath);
    try {
      const indexPath = join(dir, 'index.json');
      const index = new Map<string, number>(
        existsSync(indexPath) ? Object.entries(JSON.parse(readFileSync(indexPath, 'utf8')) as Record<string, number>) : [],
      );
      const file = join(dir, POOL_FILE);
      const fd = openSync(file, 'a');
      return new WeightPool(dir, index, lockPath, fd, statSync(file).size);
    } catch (err) {
      unlinkSync(lockPath);
      throw err;
    }
  }

  /** Offset of `raw` in the pool file, appending it when the pool does not hold it yet. */
  place(raw: Uint8Array): number {
    const key = `${createHash('sha256').update(raw).digest('hex')}:${raw.byteLength}`;
    const known = this.index.get(key);
    if (known !== undefined) return known;
    const padding = (ALIGNMENT - (this.size % ALIGNMENT)) % ALIGNMENT;
    if (padding) writeSync(this.fd, new Uint8Array(padding));
    const offset = this.size + padding;
    writeSync(this.fd, raw);
    this.size = offset + raw.byteLength;
    this.index.set(key, offset);
    this.dirty = true;
    return offset;
  }

  /** Writes the index (after the data it names) and releases the lock. */
  close(): void {
    try {
      closeSync(this.fd);
      if (this.dirty) {
        const indexPath = join(this.dir, 'index.json');
        writeFileSync(`${indexPath}.tmp`, JSON.stringify(Object.fromEntries(this.index)));
        renameSync(`${indexPath}.tmp`, indexPath);
      }
    } finally {
      unlinkSync(this.lockPath);
    }
  }
}

function acquireLock(lockPath: string): void {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lockPath, 'wx'));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (statSync(lockPath, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) {
        unlinkSync(lockPath);
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(
          `weight pool: ${lockPath} has been held for over ${LOCK_WAIT_MS / 60_000} minutes; remove it if no build is running`,
        );
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}
