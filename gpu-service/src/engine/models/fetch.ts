// Downloads released weights into a model directory: resumable (each file
// grows in `<target>.part`, continued with an HTTP Range request), and
// checksummed (sha256 per file: checked against the registry when it knows
// the value, otherwise recorded in checksums.json on first download and
// verified on every later run). Sources are tried in order (a 404 moves to
// the next); a network failure stops at once with a message that says so.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RemoteFile, RemoteSource } from './registry.ts';
import { MANIFEST_FILE, releasedFiles, releasedManifest, releasedModel, TINY_MODEL_NAME } from './registry.ts';

export const CHECKSUMS_FILE = 'checksums.json';
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export interface FetchOptions {
  /** Base URL of the Hugging Face hub (default $HF_ENDPOINT or https://huggingface.co). */
  baseUrl?: string;
  /** Bearer token for gated repositories (default $HF_TOKEN). */
  token?: string;
  /** Progress per file: bytes on disk so far and the total when known. */
  onProgress?: (file: string, bytes: number, total: number | undefined) => void;
  /** Milliseconds to wait for a response's headers (default 30 s). */
  connectTimeoutMs?: number;
}

export interface FetchedFile {
  target: string;
  sha256: string;
  bytes: number;
  /** false when the file was already complete and its checksum matched. */
  downloaded: boolean;
  source?: string;
}

/** Raised when the hub cannot be reached at all (offline, DNS, refused). */
export class NetworkError extends Error {}

/** Downloads every file of a released model into `<modelsDir>/<name>` and writes its model.json. */
export async function fetchModel(name: string, modelsDir: string, options: FetchOptions = {}): Promise<{ dir: string; files: FetchedFile[] }> {
  if (name === TINY_MODEL_NAME) throw new Error('star-tiny ships inside the repository (gpu-service/models/star-tiny); there is nothing to download');
  const model = releasedModel(name);
  const dir = join(modelsDir, name);
  const files = await fetchFiles(dir, releasedFiles(model), options);
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(releasedManifest(model), null, 2) + '\n');
  return { dir, files };
}

export async function fetchFiles(dir: string, files: readonly RemoteFile[], options: FetchOptions = {}): Promise<FetchedFile[]> {
  mkdirSync(dir, { recursive: true });
  const checksumsPath = join(dir, CHECKSUMS_FILE);
  const checksums: Record<string, string> = existsSync(checksumsPath) ? JSON.parse(readFileSync(checksumsPath, 'utf8')) : {};
  const saveChecksums = () => writeFileSync(checksumsPath, JSON.stringify(checksums, null, 2) + '\n');
  const results: FetchedFile[] = [];
  for (const file of files) {
    const target = join(dir, file.target);
    const expected = file.sha256 ?? checksums[file.target];
    if (existsSync(target)) {
      const sha256 = await hashFile(target);
      if (expected && sha256 !== expected) {
        throw new Error(`${target}: sha256 ${sha256} does not match the recorded ${expected}; the file is corrupt — delete it and run fetch-model again`);
      }
      checksums[file.target] = sha256;
      saveChecksums();
      results.push({ target: file.target, sha256, bytes: statSync(target).size, downloaded: false });
      continue;
    }
    const { sha256, bytes, source } = await download(file, target, options);
    if (expected && sha256 !== expected) {
      renameSync(`${target}.part`, `${target}.bad`);
      throw new Error(`${file.target}: downloaded sha256 ${sha256} does not match ${expected} (kept as ${target}.bad)`);
    }
    renameSync(`${target}.part`, target);
    checksums[file.target] = sha256;
    saveChecksums();
    results.push({ target: file.target, sha256, bytes, downloaded: true, source });
  }
  return results;
}

export function sourceUrl(baseUrl: string, source: RemoteSource): string {
  const path = source.path.split('/').map(encodeURIComponent).join('/');
  return `${baseUrl.replace(/\/+$/, '')}/${source.repo}/resolve/${encodeURIComponent(source.revision ?? 'main')}/${path}`;
}

/** Downloads `file` into `<target>.part` (resuming what is there) and returns its hash. */
async function download(file: RemoteFile, target: string, options: FetchOptions): Promise<{ sha256: string; bytes: number; source: string }> {
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
      throw new NetworkError(`cannot reach ${new URL(url).origin} (${why}): no network? Set HF_ENDPOINT to a mirror, or copy the model directory here by hand`, { cause: err });
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
    const fd = openSync(part, resumed ? 'a' : 'w');
    try {
      if (!resumed) ftruncateSync(fd, 0);
      if (!response.body) throw new Error(`${url}: empty response`);
      for await (const chunk of response.body) {
        writeSync(fd, chunk);
        hash.update(chunk);
        bytes += chunk.byteLength;
        options.onProgress?.(file.target, bytes, total);
      }
    } catch (err) {
      throw new NetworkError(`${file.target}: download interrupted at ${bytes} bytes (${(err as Error).message}); run fetch-model again to resume`, { cause: err });
    } finally {
      closeSync(fd);
    }
    if (total !== undefined && bytes !== total) {
      throw new NetworkError(`${file.target}: got ${bytes} of ${total} bytes; run fetch-model again to resume`);
    }
    return { sha256: hash.digest('hex'), bytes, source: url };
  }
  const note = file.uncertain ? ` (${file.uncertain})` : '';
  throw new Error(`${file.target}: no source has it — ${failures.join('; ')}${note}`);
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
