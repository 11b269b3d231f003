// Shared by the load, fault and fuzz tests: a throwaway local stack on free ports, process
// memory from /proc, a misbehaving-GPU proxy, and the checks every response must pass
// (problem+json shape, no stack traces or secrets in bodies).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopAllServices } from '../../scripts/lib/processes.ts';
import { startStack, type Stack, type StackOptions } from '../../scripts/lib/stack.ts';

export const PROBLEM_PREFIX = 'https://star-api.dev/problems/';
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CI (`CI=true`) and local runs use the short mode; `STAR_LOAD=full` asks for the long one. */
export const FULL = process.env.STAR_LOAD === 'full';

export interface TestStack extends Stack {
  stateDir: string;
  /** Stops both services and deletes the state folder. */
  dispose(): Promise<void>;
}

/** A whole stack (real gpu-service on star-tiny, real edge in workerd) on free ports with fresh state. */
export async function startTestStack(options: Omit<StackOptions, 'edgePort' | 'gpuPort' | 'stateDir'> = {}): Promise<TestStack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'star-reliability-'));
  const [edgePort, gpuPort] = [await freePort(), await freePort()];
  let stack: Stack;
  try {
    stack = await startStack({ ...options, edgePort, gpuPort, stateDir });
  } catch (error) {
    // Whatever did start must not outlive the test file (its pipes would keep it running).
    await stopAllServices();
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  return Object.assign(Object.create(stack) as Stack, {
    stateDir,
    async dispose() {
      await stack.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  }) as TestStack;
}

// ------------------------------------------------------------------ processes and memory

/** Resident set size of a process, bytes (VmRSS in /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  assert.ok(Number.isFinite(kb), `no VmRSS for pid ${pid}`);
  return kb * 1024;
}

/** The process of the given name in process group `pgid` (workerd under `wrangler dev`). */
function findInGroup(pgid: number, name: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ... — comm may hold spaces, so split after the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && comm === name) return Number(entry);
    } catch {
      /* exited meanwhile */
    }
  }
  throw new Error(`no ${name} process in group ${pgid}`);
}

export interface StackPids {
  gpu: number;
  workerd: number;
}

export function stackPids(stack: Stack): StackPids {
  return { gpu: stack.gpu.child.pid!, workerd: findInGroup(stack.edge.child.pid!, 'workerd') };
}

// ------------------------------------------------------------------ response checks

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  request_id: string;
  instance?: string;
  retry_after?: number;
  errors?: { path: string; message: string }[];
}

/** Asserts an RFC 9457 body as openapi.yaml's Problem schema describes it, and returns it. */
export function assertProblem(status: number, contentType: string | null, text: string, context = ''): Problem {
  assert.match(
    contentType ?? '',
    /^application\/problem\+json/,
    `${context}: ${status} with content type ${contentType}: ${text.slice(0, 300)}`,
  );
  let body: Problem;
  try {
    body = JSON.parse(text) as Problem;
  } catch {
    assert.fail(`${context}: problem body is not JSON: ${text.slice(0, 300)}`);
  }
  assert.ok(body.type.startsWith(PROBLEM_PREFIX), `${context}: problem type ${body.type}`);
  assert.equal(typeof body.title, 'string', `${context}: title`);
  assert.equal(body.status, status, `${context}: problem status ${body.status} vs HTTP ${status}`);
  assert.equal(typeof body.detail, 'string', `${context}: detail`);
  if (body.errors !== undefined) {
    assert.ok(Array.isArray(body.errors), `${context}: errors is an array`);
    for (const error of body.errors)
      assert.ok(typeof error.path === 'string' && typeof error.message === 'string', `${context}: field error ${JSON.stringify(error)}`);
  }
  return body;
}

/** Problem bodies of the edge also carry the request id (openapi.yaml requires it). */
export function assertEdgeProblem(response: Pick<Response, 'status' | 'headers'>, text: string, context = ''): Problem {
  const body = assertProblem(response.status, response.headers.get('content-type'), text, context);
  assert.equal(typeof body.request_id, 'string', `${context}: request_id`);
  assert.equal(body.request_id, response.headers.get('x-request-id'), `${context}: request_id matches X-Request-Id`);
  return body;
}

const STACK_TRACE = [
  /\n\s+at /,
  /\bat [\w$.<>[\] ]+ \((?:file|node):/,
  /\.ts:\d+/,
  /\.js:\d+:\d+/,
  /node:internal/,
  /\/work\/|\/home\/|\/tmp\//,
];

/** Fails when a body shows a stack trace, a source path or any of `secrets`. */
export function assertNoLeak(text: string, secrets: string[], context = ''): void {
  for (const pattern of STACK_TRACE)
    assert.doesNotMatch(text, pattern, `${context}: body looks like a stack trace or path: ${text.slice(0, 300)}`);
  for (const secret of secrets) assert.ok(!text.includes(secret), `${context}: body leaks a secret`);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ------------------------------------------------------------------ a misbehaving GPU

export type ProxyMode =
  | { kind: 'pass' }
  /** Holds each request this long before forwarding it. */
  | { kind: 'delay'; ms: number }
  /** Answers itself, never asking the gpu-service: garbage where the contract's frames belong. */
  | { kind: 'garbage'; respond: (requestBody: string) => { status?: number; contentType: string; body: string | Uint8Array } }
  /** Closes the connection without an answer. */
  | { kind: 'reset' };

/**
 * A real HTTP proxy on loopback between the edge and the gpu-service: the edge's
 * GPU_SERVICE_URL points here, and each test case switches `mode`.
 */
export class GpuProxy {
  mode: ProxyMode = { kind: 'pass' };
  /** Requests seen, by mode kind. */
  readonly seen: Record<string, number> = {};
  private server: Server | null = null;
  /** The gpu-service; settable after `listen` (the proxy starts before the stack it serves). */
  target: URL;
  private readonly open = new Set<IncomingMessage>();

  constructor(target = 'http://127.0.0.1:1') {
    this.target = new URL(target);
  }

  async listen(port: number): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const mode = this.mode;
    this.seen[mode.kind] = (this.seen[mode.kind] ?? 0) + 1;
    this.open.add(req);
    let closed = false;
    res.once('close', () => {
      closed = true;
      this.open.delete(req);
    });
    if (mode.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (mode.kind === 'garbage') {
      const answer = mode.respond(body.toString());
      res.writeHead(answer.status ?? 200, { 'content-type': answer.contentType });
      res.end(answer.body);
      return;
    }
    if (mode.kind === 'delay') {
      await sleep(mode.ms);
      // The edge gave up meanwhile: the request never reaches the gpu-service.
      if (closed || res.destroyed) return;
    }
    this.forward(req, res, body);
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const upstream = httpRequest(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        // Killed mid-answer (the GPU now streams its frames): cut the edge off too, as the dead host's reset would.
        answer.once('close', () => {
          if (!answer.complete) res.socket?.destroy();
        });
      },
    );
    // The gpu-service is down: drop the edge's connection as a dead host would.
    upstream.on('error', () => res.socket?.destroy());
    res.once('close', () => upstream.destroy());
    upstream.end(body);
  }

  async close(): Promise<void> {
    if (!this.server) return;
    for (const req of this.open) req.socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }
}

// ------------------------------------------------------------------ edge calls

export function authHeaders(key: string): Record<string, string> {
  return { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

/** One request with a hard deadline; the body is read whole. */
export async function call(url: string, init: RequestInit = {}, timeoutMs = 60_000): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, ms: performance.now() - started };
}

export interface JobView {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  result?: { data: { url: string; key: string }[]; cached: boolean };
  error?: Problem;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Polls a job until it is terminal; fails after `timeoutMs`. */
export async function waitForJob(edgeUrl: string, key: string, id: string, timeoutMs = 60_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  let last: JobView | null = null;
  while (Date.now() < deadline) {
    const answer = await call(`${edgeUrl}/v1/jobs/${id}`, { headers: authHeaders(key) }, 10_000).catch(() => null);
    if (answer?.status === 200) {
      last = JSON.parse(answer.text) as JobView;
      if (TERMINAL.has(last.status)) return last;
    }
    await sleep(200);
  }
  throw new Error(`job ${id} did not reach a terminal state within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}
