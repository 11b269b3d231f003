// Starts the service: engine worker, batcher, metrics, HTTP. Owns the lifecycle
// (ready once the engine is warm; shutdown drains accepted work first).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { Batcher } from './batcher.ts';
import type { ServiceConfig } from './config.ts';
import { EngineClient } from './engine-client.ts';
import { readGpuMemory } from './gpu-memory.ts';
import type { GpuMemory } from './gpu-memory.ts';
import { createServiceMetrics } from './metrics.ts';

const KEEP_ALIVE_MS = 75_000;

/** How long finished work may take to reach its client after the drain. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface RunningService {
  /** Base URL, e.g. http://127.0.0.1:8788 */
  url: string;
  port: number;
  /** Resolves when models are loaded and warm; rejects if the engine fails to load. */
  ready: Promise<void>;
  metrics: ReturnType<typeof createServiceMetrics>;
  /** Resolves if the engine worker dies after start; the process should then exit so the platform restarts it. */
  engineFailed: Promise<Error>;
  /** Stops intake (503, /readyz 503), finishes accepted work, then closes everything. */
  shutdown(): Promise<void>;
}

export async function startService(config: ServiceConfig): Promise<RunningService> {
  const engine = new EngineClient({
    engineModule: config.engineModule,
    models: config.models,
    device: config.device,
    precision: config.precision,
    modelDir: config.modelDir,
    maxBatch: config.maxBatch,
  });
  const batcher = new Batcher(engine, { maxBatch: config.maxBatch, queueLimit: config.queueLimit, batchWindowMs: config.batchWindowMs });
  let gpuMemory: GpuMemory[] = [];
  const metrics = createServiceMetrics({
    engineHeapBytes: () => engine.heapBytes,
    gpuMemory: () => gpuMemory,
    queueDepth: () => batcher.queueDepth,
    inFlight: () => batcher.inFlight,
  });
  batcher.onBatch = (batch) => metrics.batchSize.observe(batch.images, { model: batch.model });
  batcher.onEngineCancelled = (images) => metrics.engineCancelled.inc({}, images);

  const engineFailed = new Promise<Error>((resolve) => (engine.onFailure = resolve));
  let loaded = false;
  const ready = engine.whenReady().then(() => {
    loaded = true;
  });
  const app = createApp({
    sharedSecret: config.sharedSecret,
    maxBatch: config.maxBatch,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveMs: config.keepAliveMs,
    batcher,
    models: engine.models,
    readiness: () => (engine.failed ? 'failed' : batcher.isDraining ? 'draining' : loaded ? 'ready' : 'loading'),
    metrics,
    beforeScrape: async () => {
      const [, gpus] = await Promise.all([engine.sampleHeap(), config.device === 'cuda' ? readGpuMemory() : []]);
      gpuMemory = gpus;
    },
  });

  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s as Server));
  });
  // Idle keep-alive connections outlive the callers' pools (workerd, proxies) so that a client
  // never reuses a socket this side has just closed: that surfaces as a failed request, not a retry.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 5_000;
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;

  let closing: Promise<void> | undefined;
  const shutdown = () =>
    (closing ??= (async () => {
      await batcher.drain();
      // Responses to drained work may still be writing: close each connection
      // as soon as it goes idle, and force the rest after a grace period.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        const sweep = setInterval(() => server.closeIdleConnections(), 20);
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        server.once('close', () => {
          clearInterval(sweep);
          clearTimeout(force);
        });
      });
      await engine.close();
    })());

  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port, ready, metrics, engineFailed, shutdown };
}
