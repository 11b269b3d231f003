// The thin seam around Modal's JS SDK: the deploy commands depend on this
// interface; tests pass a recording implementation, production wraps `modal`.
import type { ModalClient } from 'modal';

export interface SandboxSpec {
  appName: string;
  image: string;
  gpu: string;
  command: string[];
  workdir: string;
  env: Record<string, string>;
  /** Volume name → mount path. */
  volumes: Record<string, string>;
  timeoutMs: number;
}

export interface SandboxOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ModalGateway {
  /** HTTPS URL of a deployed web function, or undefined if it has none. */
  webUrl(appName: string, functionName: string): Promise<string | undefined>;
  /** Runs a command to completion in a fresh GPU Sandbox and collects its output. */
  runSandbox(spec: SandboxSpec): Promise<SandboxOutcome>;
  close(): void;
}

/** The real gateway. The SDK is imported here only, and only when a command really runs. */
export async function createModalGateway(): Promise<ModalGateway> {
  const { ModalClient } = await import('modal');
  const client: ModalClient = new ModalClient();
  return {
    async webUrl(appName, functionName) {
      const fn = await client.functions.fromName(appName, functionName);
      return fn.getWebUrl();
    },
    async runSandbox(spec) {
      const app = await client.apps.fromName(spec.appName, { createIfMissing: true });
      const image = client.images.fromRegistry(spec.image);
      const volumes = Object.fromEntries(
        await Promise.all(
          Object.entries(spec.volumes).map(
            async ([name, path]) => [path, await client.volumes.fromName(name, { createIfMissing: true })] as const,
          ),
        ),
      );
      const sandbox = await client.sandboxes.create(app, image, {
        gpu: spec.gpu,
        command: spec.command,
        workdir: spec.workdir,
        env: spec.env,
        volumes,
        timeoutMs: spec.timeoutMs,
      });
      try {
        const [stdout, stderr, exitCode] = await Promise.all([sandbox.stdout.readText(), sandbox.stderr.readText(), sandbox.wait()]);
        return { exitCode, stdout, stderr };
      } finally {
        await sandbox.terminate();
      }
    },
    close() {
      client.close();
    },
  };
}
