// Downloads released weights into a model directory: resumable (each file
// grows in `<target>.part`, continued with an HTTP Range request), and
// checked (the size when the registry knows it, before and after the
// download; the sha256 against the registry's full or partial sum, and
// against checksums.json, where the first download records every sum).
// Sources are tried in order (a 404 moves to the next); a network failure
// stops at once with a message that says so. A training snapshot is
// downloaded, its generator state dict extracted to safetensors, and the
// snapshot removed.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
  ftruncateSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { convertToSafetensors } from '../weights/convert.ts';
import { writeNotice } from './notice.ts';
import type { RemoteFile, RemoteSource } from './registry.ts';
import { MANIFEST_FILE, releasedFiles, releasedManifest, releasedModel, TINY_MODEL_NAME } from './registry.ts';

export const CHECKSUMS_FILE = 'checksums.json';
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export interface FetchProgress {
  /** Path inside the model directory. */
  file: string;
  /** Downloading `file`, or extracting the generator into it from a snapshot. */
  stage: 'download' | 'extract';
  /** Bytes done so far (for a download: on disk, including a resumed part). */
  bytes: number;
  total: number | undefined;
}

export interface FetchOptions {
  /** Base URL of the Hugging Face hub (default $HF_ENDPOINT or https://huggingface.co). */
  baseUrl?: string;
  /** Bearer token for gated repositories (default $HF_TOKEN). */
  token?: string;
  onProgress?: (progress: FetchProgress) => void;
  /** Milliseconds to wait for a response's headers (default 30 s). */
  connectTimeoutMs?: number;
  /** Keep a training snapshot after its generator is extracted (default: remove it; it holds optimizer state too). */
  keepSnapshot?: boolean;
}

export interface FetchedFile {
  target: string;
  sha256: string;
  bytes: number;
  /** false when the file was already complete and its checksum matched. */
  downloaded: boolean;
  source?: string;
  /** Set when `target` was extracted from a training snapshot just now. */
  extracted?: { from: string; key: string; tensors: number; snapshotBytes: number; snapshotKept: boolean };
}

/** Raised when the hub cannot be reached at all (offline, DNS, refused). */
export class NetworkError extends Error {}

/**
 * Downloads every file of a published model into `<modelsDir>/<name>`,
 * writing its NOTICE first (the licences bind from the first byte) and its
 * model.json last.
 */
export async function fetchModel(
  name: string,
  modelsDir: string,
  options: FetchOptions = {},
): Promise<{ dir: string; files: FetchedFile[] }> {
  if (name === TINY_MODEL_NAME)
    throw new Error('star-tiny ships inside the repository (gpu-service/models/star-tiny); there is nothing to download');
  const model = releasedModel(name);
  const remote = releasedFiles(model);
  const dir = join(modelsDir, name);
  mkdirSync(dir, { recursive: true });
  writeNotice(dir, name, remote);
  const files = await fetchFiles(dir, remote, options);
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(releasedManifest(model), null, 2)}\n`);
  return { dir, files };
}

export async function fetchFiles(dir: string, files: readonly RemoteFile[], options: FetchOptions = {}): Promise<FetchedFile[]> {
  mkdirSync(dir, { recursive: true });
  const checksums = new Checksums(join(dir, CHECKSUMS_FILE));
  const results: FetchedFile[] = [];
  for (const file of files)
    results.push(
      file.extract ? await fetchAndExtract(dir, file, file.extract, checksums, options) : await fetchFile(dir, file, checksums, options),
    );
  return results;
}

/** checksums.json: the sha256 of every file fetched into a directory, saved after each change. */
class Checksums {
  private readonly path: string;
  private readonly sums: Record<string, string>;
  constructor(path: string) {
    this.path = path;
    this.sums = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  }
  get(target: string): string | undefined {
    return this.sums[target];
  }
  set(target: string, sha256: string): void {
    this.sums[target] = sha256;
    writeFileSync(this.path, `${JSON.stringify(this.sums, null, 2)}\n`);
  }
}

async function fetchFile(dir: string, file: RemoteFile, checksums: Checksums, options: FetchOptions): Promise<FetchedFile> {
  const target = join(dir, file.target);
  if (existsSync(target)) {
    const bytes = statSync(target).size;
    const wrongSize = sizeProblem(bytes, file.bytes);
    if (wrongSize) throw corrupt(target, wrongSize);
    const sha256 = await hashFile(target);
    const wrongSum = digestProblem(sha256, file.sha256, checksums.get(file.target));
    if (wrongSum) throw corrupt(target, wrongSum);
    checksums.set(file.target, sha256);
    return { target: file.target, sha256, bytes, downloaded: false };
  }
  const { sha256, bytes, source } = await download(file, target, options);
  const problem = sizeProblem(bytes, file.bytes) ?? digestProblem(sha256, file.sha256, checksums.get(file.target));
  if (problem) {
    renameSync(`${target}.part`, `${target}.bad`);
    throw new Error(`${file.target}: downloaded ${problem} (kept as ${target}.bad)`);
  }
  renameSync(`${target}.part`, target);
  checksums.set(file.target, sha256);
  return { target: file.target, sha256, bytes, downloaded: true, source };
}

/**
 * A training snapshot: when its extracted weights are here (and match their
 * recorded sum) there is nothing to do; otherwise fetch the snapshot, write
 * the state dict at `key` to `to` (through a .part file), record its sum
 * and remove the snapshot unless asked to keep it.
 */
async function fetchAndExtract(
  dir: string,
  file: RemoteFile,
  extract: { key: string; to: string },
  checksums: Checksums,
  options: FetchOptions,
): Promise<FetchedFile> {
  const out = join(dir, extract.to);
  if (existsSync(out)) {
    const sha256 = await hashFile(out);
    const problem = digestProblem(sha256, undefined, checksums.get(extract.to));
    if (problem) throw corrupt(out, problem);
    checksums.set(extract.to, sha256);
    return { target: extract.to, sha256, bytes: statSync(out).size, downloaded: false };
  }
  const snapshot = await fetchFile(dir, file, checksums, options);
  const part = `${out}.part`;
  const { tensors } = convertToSafetensors(join(dir, file.target), part, {
    key: extract.key,
    onProgress: (bytes, total) => options.onProgress?.({ file: extract.to, stage: 'extract', bytes, total }),
  });
  renameSync(part, out);
  const sha256 = await hashFile(out);
  checksums.set(extract.to, sha256);
  const snapshotKept = options.keepSnapshot === true;
  if (!snapshotKept) rmSync(join(dir, file.target));
  return {
    target: extract.to,
    sha256,
    bytes: statSync(out).size,
    downloaded: snapshot.downloaded,
    source: snapshot.source,
    extracted: { from: file.target, key: extract.key, tensors, snapshotBytes: snapshot.bytes, snapshotKept },
  };
}

function corrupt(path: string, problem: string): Error {
  return new Error(`${path}: ${problem}; the file is corrupt — delete it and run fetch-model again`);
}

function sizeProblem(bytes: number, known: number | undefined): string | undefined {
  return known !== undefined && bytes !== known ? `size ${bytes} bytes is not the known ${known}` : undefined;
}

/** Checks a sum against the registry's (full, or `prefix…suffix`) and the one recorded on first download. */
function digestProblem(sha256: string, known: string | undefined, recorded: string | undefined): string | undefined {
  if (known !== undefined && !digestMatches(sha256, known)) return `sha256 ${sha256} does not match the known ${known}`;
  if (recorded !== undefined && sha256 !== recorded) return `sha256 ${sha256} does not match the recorded ${recorded}`;
  return undefined;
}

export function digestMatches(sha256: string, known: string): boolean {
  const [prefix, suffix] = known.split('…');
  if (suffix === undefined) return sha256 === known;
  return sha256.startsWith(prefix) && sha256.endsWith(suffix);
}

export function sourceUrl(baseUrl: string, source: RemoteSource): string {
  const path = source.path.split('/').map(encodeURIComponent).join('/');
  return `${baseUrl.replace(/\/+$/, '')}/${source.repo}/resolve/${encodeURIComponent(source.revision ?? 'main')}/${path}`;
}

/** Downloads `file` into `<target>.part` (resuming what is there) and returns its hash. */
async function download(
  file: RemoteFile,
  target: string,
  options: FetchOptions,
): Promise<{ sha256: string; bytes: number; source: string }> {
  const baseUrl = options.baseUrl ?? process.env.HF_ENDPOINT ?? DEFAULT_HF_ENDPOINT;
  const token = options.token ?? process.env.HF_TOKEN;
  const part = `${target}.part`;
  mkdirSync(dirname(target), { recursive: true });
  const failures: string[] = [];
  for (const source of file.sources) {
    const url = sourceUrl(baseUrl, source);
    const have = existsSync(part) ? statSync(part).size : 0;
    const headers: Record<string, string> = {};
    if (have > 0) headers.range = `bytes=${have}-`;
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, redirect: 'follow', signal: AbortSignal.timeout(options.connectTimeoutMs ?? 30_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new NetworkError(
        `cannot reach ${new URL(url).origin} (${why}): no network? Set HF_ENDPOINT to a mirror, or copy the model directory here by hand`,
        { cause: err },
      );
    }
    if (response.status === 416 && have > 0) {
      // The part file already holds every byte.
      await response.body?.cancel();
      return { ...(await hashAndSize(part)), source: url };
    }
    if (!response.ok) {
      await response.body?.cancel();
      failures.push(`${url}: HTTP ${response.status}`);
      if (response.status === 401 || response.status === 403 || response.status === 404) continue;
      throw new Error(`${file.target}: ${failures.join('; ')}`);
    }
    const resumed = response.status === 206;
    const hash = createHash('sha256');
    let bytes = 0;
    if (resumed) {
      for await (const chunk of createReadStream(part)) hash.update(chunk as Buffer);
      bytes = have;
    }
    const total = contentTotal(response, resumed ? have : 0);
    if (file.bytes !== undefined && total !== undefined && total !== file.bytes) {
      await response.body?.cancel();
      failures.push(`${url}: offers ${total} bytes, not the known ${file.bytes}`);
      continue;
    }
    const fd = openSync(part, resumed ? 'a' : 'w');
    try {
      if (!resumed) ftruncateSync(fd, 0);
      if (!response.body) throw new Error(`${url}: empty response`);
      for await (const chunk of response.body) {
        writeSync(fd, chunk);
        hash.update(chunk);
        bytes += chunk.byteLength;
        options.onProgress?.({ file: file.target, stage: 'download', bytes, total });
      }
    } catch (err) {
      throw new NetworkError(
        `${file.target}: download interrupted at ${bytes} bytes (${(err as Error).message}); run fetch-model again to resume`,
        { cause: err },
      );
    } finally {
      closeSync(fd);
    }
    if (total !== undefined && bytes !== total) {
      throw new NetworkError(`${file.target}: got ${bytes} of ${total} bytes; run fetch-model again to resume`);
    }
    return { sha256: hash.digest('hex'), bytes, source: url };
  }
  throw new Error(`${file.target}: no source has it — ${failures.join('; ')}`);
}

function contentTotal(response: Response, offset: number): number | undefined {
  const range = response.headers.get('content-range');
  const m = range ? /\/(\d+)$/.exec(range) : null;
  if (m) return Number(m[1]);
  const length = response.headers.get('content-length');
  return length ? offset + Number(length) : undefined;
}

async function hashAndSize(path: string): Promise<{ sha256: string; bytes: number }> {
  return { sha256: await hashFile(path), bytes: statSync(path).size };
}

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
