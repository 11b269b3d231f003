// Child processes for the local stack: each runs in its own process group so
// that stopping it also stops what it spawned (wrangler → workerd).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Service {
  name: string;
  child: ChildProcess;
  /** Everything the process printed, for error messages when it fails to start. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Echo the process's output with a name prefix (npm start does; tests don't). */
  echo?: boolean;
}

const running = new Set<Service>();

/** Stops every service this process started (for signal handlers during start-up). */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((service) => service.stop()));
}

export function startService(options: StartOptions): Service {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    log = (log + text).slice(-20_000);
    if (options.echo) for (const line of text.split('\n')) if (line.trim()) process.stdout.write(`[${options.name}] ${line}\n`);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const service: Service = {
    name: options.name,
    child,
    output: () => log,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      // No pid: the spawn itself failed, so there is no process group to stop.
      const group = child.pid;
      if (group === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-group, signal);
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-group, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(service);
  child.once('exit', () => running.delete(service));
  return service;
}

/** Polls `url` until it answers 2xx, the service exits, or the timeout passes. */
export async function waitUntilReady(service: Service, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) {
      throw new Error(`${service.name} exited with code ${service.child.exitCode} before it was ready:\n${service.output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${service.name} was not ready at ${url} within ${timeoutMs} ms:\n${service.output()}`);
}

/** A free TCP port on 127.0.0.1, picked by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when `port` can be bound on 127.0.0.1; rejects with a clear message when it is taken. */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', () =>
      reject(new Error(`port ${port} (${what}) is already in use: stop what is using it or pick another port (see README, "Ports")`)),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}
