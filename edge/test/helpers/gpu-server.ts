// A stand-in gpu-service on loopback for edge tests: it checks every request's signature exactly
// as the gpu-service does, counts calls, and answers in frames with tiny real PNGs (or a chosen fault).
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { crc32, deflateSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { MAX_CLOCK_SKEW_S, requestSignature } from '../../../gpu-service/src/server/auth.ts';
import {
  encodeFrame,
  FRAMES_CONTENT_TYPE,
  GENERATE_PATH,
  NONCE_HEADER,
  READY_PATH,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  type GenerateBody,
  type ReadyResponse,
} from '@star-api/contract';
import { NonceCache } from '../../../gpu-service/src/server/nonce-cache.ts';

export type GpuMode = 'ok' | 'garbage' | 'not-an-image' | 'error' | 'busy' | 'stream-error';

export type GpuRequestBody = GenerateBody & { output_format: 'png' | 'webp' | 'jpeg' };

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid side×side RGB PNG whose colour encodes the seed, so different seeds give different bytes. */
export function tinyPng(seed: number, side = 2): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const row = Buffer.alloc(1 + side * 3);
  for (let x = 0; x < side; x++) row.set([(seed >>> 16) & 0xff, (seed >>> 8) & 0xff, seed & 0xff], 1 + 3 * x);
  const raw = Buffer.concat(Array.from({ length: side }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function imageBytes(format: GpuRequestBody['output_format'], seed: number): Buffer {
  if (format === 'png') return tinyPng(seed);
  const marker = Buffer.from(`seed ${seed}`);
  if (format === 'jpeg') return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), marker]);
  const body = Buffer.concat([Buffer.from('WEBPVP8 '), marker]);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(body.length);
  return Buffer.concat([Buffer.from('RIFF'), size, body]);
}

export class FakeGpu {
  readonly secret: string;
  mode: GpuMode = 'ok';
  /** Milliseconds before answering (to hold requests in flight). */
  delayMs = 0;
  /** This many calls answer 503 (queue full) before the mode applies. */
  busyCalls = 0;
  retryAfterS = 7;
  scales = 4;
  /** What GET /readyz names as served. */
  models = ['star-tiny'];
  calls = 0;
  rejectedSignatures = 0;
  requests: GpuRequestBody[] = [];
  headers: IncomingMessage['headers'][] = [];
  private readonly nonces = new NonceCache(100_000);
  private server: Server;

  constructor(secret: string) {
    this.secret = secret;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.mode = 'ok';
    this.delayMs = 0;
    this.busyCalls = 0;
    this.retryAfterS = 7;
    this.calls = 0;
    this.rejectedSignatures = 0;
    this.requests = [];
    this.headers = [];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * internal-api.md: the signature over canonicalRequest (method, path, timestamp, nonce, the
   * signed headers, body hash), |now − TS| ≤ 300 s, and each nonce once — as the service checks.
   */
  verify(req: IncomingMessage, body: Buffer): boolean {
    const [timestamp, nonce, signature] = [TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER].map((name) => req.headers[name]);
    if (typeof timestamp !== 'string' || typeof nonce !== 'string' || typeof signature !== 'string' || !/^\d+$/.test(timestamp))
      return false;
    const nowS = Date.now() / 1000;
    if (Math.abs(nowS - Number(timestamp)) > MAX_CLOCK_SKEW_S) return false;
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    const expected = Buffer.from(
      requestSignature(this.secret, { method: req.method ?? '', pathWithQuery: req.url ?? '', timestamp, nonce, header }, body),
    );
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    return this.nonces.claim(nonce, Number(timestamp) + MAX_CLOCK_SKEW_S, nowS) === 'fresh';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    const body = Buffer.concat(parts);
    if (req.method === 'GET' && req.url === READY_PATH) {
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ status: 'ready', models: this.models } satisfies ReadyResponse));
      return;
    }
    if (req.method !== 'POST' || req.url !== GENERATE_PATH) {
      res.writeHead(404).end();
      return;
    }
    if (!this.verify(req, body)) {
      this.rejectedSignatures++;
      res.writeHead(401, { 'Content-Type': 'application/problem+json' }).end(
        JSON.stringify({
          type: 'https://star-api.dev/problems/unauthorized',
          title: 'Unauthorized',
          status: 401,
          detail: 'bad signature',
        }),
      );
      return;
    }
    this.calls++;
    const request = JSON.parse(body.toString('utf8')) as GpuRequestBody;
    this.requests.push(request);
    this.headers.push(req.headers);
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (res.destroyed) return;
    if (this.mode === 'busy' || this.busyCalls > 0) {
      this.busyCalls = Math.max(0, this.busyCalls - 1);
      res.writeHead(503, { 'Content-Type': 'application/problem+json', 'Retry-After': String(this.retryAfterS) }).end(
        JSON.stringify({
          type: 'https://star-api.dev/problems/gpu_unavailable',
          title: 'GPU unavailable',
          status: 503,
          detail: 'queue full',
        }),
      );
      return;
    }
    if (this.mode === 'error') {
      res.writeHead(500, { 'Content-Type': 'application/problem+json' }).end(
        JSON.stringify({
          type: 'https://star-api.dev/problems/generation_failed',
          title: 'Generation failed',
          status: 500,
          detail: 'engine exploded',
        }),
      );
      return;
    }
    res.writeHead(200, { 'Content-Type': FRAMES_CONTENT_TYPE, 'Cache-Control': 'no-store' });
    const send = (event: string, data: unknown, payload?: Buffer) => res.write(encodeFrame(event, data, payload));
    send('queued', { position: 0 });
    send('started', { scales: this.scales, batch_size: request.seeds.length });
    for (let scale = 1; scale <= this.scales; scale++) {
      const previews = request.preview
        ? { previews: request.seeds.map((seed) => ({ format: 'png', b64: tinyPng(scale + seed, 1).toString('base64') })) }
        : {};
      send('progress', { scale, scales: this.scales, side: scale, ...previews });
    }
    if (this.mode === 'stream-error') {
      send('error', {
        type: 'https://star-api.dev/problems/generation_failed',
        title: 'Generation failed',
        status: 500,
        detail: 'died mid-stream',
      });
    } else if (this.mode === 'garbage') {
      res.write('{"event":"image","data":{not json\n');
    } else {
      for (const seed of request.seeds) {
        const bytes = this.mode === 'not-an-image' ? Buffer.from('definitely not an image') : imageBytes(request.output_format, seed);
        send('image', { seed, format: request.output_format }, bytes);
      }
      send('result', {
        model: request.model,
        width: 2,
        height: 2,
        timings: { queue_ms: 1, text_ms: 2, generate_ms: 3, decode_ms: 4, encode_ms: 5, total_ms: 15 },
        batch_size: request.seeds.length,
      });
    }
    res.end();
  }
}
