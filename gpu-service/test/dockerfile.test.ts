// No Docker engine runs here, so this checks what the image would run: its
// CMD and ENV through the real config module, its HEALTHCHECK command against
// a running service, and that every path it copies exists.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { cudaProviderLibrary } from '../src/engine/onnx/runtime.ts';
import { loadConfig } from '../src/server/config.ts';
import { startTestService, TEST_ENGINE_ENV, TEST_SECRET } from './support/service.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
/** Instructions with line continuations joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((line) => line.trim() && !line.trim().startsWith('#'))
  .map((line) => {
    const [keyword, ...rest] = line.trim().split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
const all = (keyword: string) => instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const last = (keyword: string) => all(keyword).at(-1)!;

function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of all('ENV')) for (const [, key, value] of args.matchAll(/(\w+)=(\S+)/g)) env[key] = value;
  return env;
}

describe('gpu-service/Dockerfile', () => {
  it('runs on a CUDA 12 cuDNN runtime with Node 24 (the repo’s major)', () => {
    assert.match(all('FROM').at(-1)!, /^nvidia\/cuda:12\.\d+(\.\d+)?-cudnn-runtime-ubuntu\d+\.\d+$/);
    const nodeVersion = /NODE_VERSION=(\d+)\./.exec(all('ARG').join(' '))![1];
    const rootPackage = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(nodeVersion, /\d+/.exec(rootPackage.devDependencies.node)![0]);
    assert.match(dockerfile, /sha256sum -c/, 'the Node tarball is verified');
  });

  it('installs production dependencies with the CUDA build of onnxruntime-node', () => {
    assert.equal(imageEnv().ONNXRUNTIME_NODE_INSTALL, 'cuda12');
    assert.ok(all('RUN').some((args) => args.includes('npm ci --omit=dev -w gpu-service')));
  });

  it('copies only paths that exist in the repository', () => {
    for (const args of all('COPY').filter((a) => !a.startsWith('--from'))) {
      const sources = args.split(/\s+/).slice(0, -1);
      for (const source of sources) assert.ok(existsSync(REPO + source), `COPY source ${source} is missing`);
    }
  });

  it('carries the workspace packages the service depends on (their manifests before npm ci, their sources after)', () => {
    const service = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const copied = all('COPY').map((a) => a.split(/\s+/)[0]);
    for (const name of Object.keys(service.dependencies).filter((name) => name.startsWith('@star-api/'))) {
      const folder = name.slice('@star-api/'.length);
      assert.ok(copied.includes(`${folder}/package.json`), `${folder}/package.json is not copied`);
      assert.ok(copied.includes(`${folder}/src`), `${folder}/src is not copied`);
    }
  });

  it('carries the models its default MODELS names (embedded ones, since /models starts empty)', () => {
    const copied = all('COPY')
      .filter((a) => !a.startsWith('--from'))
      .map((a) => a.split(/\s+/).at(-1)!);
    for (const model of loadConfig({ ...imageEnv(), GPU_SHARED_SECRET: TEST_SECRET }).models) {
      assert.ok(existsSync(`${REPO}gpu-service/models/${model}/model.json`), `${model} is not embedded`);
      assert.ok(copied.includes('gpu-service/models'), 'gpu-service/models is not copied into the image');
    }
  });

  it('fails its build when the CUDA provider library is missing or cannot resolve its libraries (the path the engine checks)', () => {
    const check = all('RUN').find((args) => args.includes('libonnxruntime_providers_cuda.so'));
    assert.ok(check, 'a RUN step checks the CUDA provider');
    const path = /lib=(\S+)/.exec(check)![1];
    assert.ok(
      cudaProviderLibrary().endsWith(path.replace(/^node_modules\//, '/')),
      `${path} is where runtime.ts looks (${cudaProviderLibrary()})`,
    );
    assert.match(check, /test -s "\$lib"/);
    assert.match(check, /ldd "\$lib" \| grep 'not found'/);
  });

  it('keeps fp32 products in fp32 on the GPU and the built graphs on a volume', () => {
    assert.equal(imageEnv().NVIDIA_TF32_OVERRIDE, '0');
    assert.equal(last('VOLUME'), imageEnv().STAR_CACHE_DIR, 'the graph cache is a declared volume');
  });

  it('runs as a non-root user', () => {
    assert.ok(last('USER') && last('USER') !== 'root' && last('USER') !== '0');
  });

  it('starts an entry point that exists, with ENV defaults the config module accepts', () => {
    const cmd = JSON.parse(last('CMD')) as string[];
    assert.equal(cmd[0], 'node');
    assert.ok(existsSync(REPO + cmd[1]), `${cmd[1]} is missing`);
    const config = loadConfig({ ...imageEnv(), GPU_SHARED_SECRET: TEST_SECRET });
    assert.equal(config.device, 'cuda');
    assert.equal(config.modelDir, '/models');
    assert.deepEqual(config.models, ['star-tiny']);
    assert.equal(String(config.port), last('EXPOSE'));
  });

  it('has a HEALTHCHECK whose command succeeds against a running service', async () => {
    const healthcheck = last('HEALTHCHECK');
    const argv = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[];
    assert.equal(argv[0], 'node');
    const service = await startTestService(TEST_ENGINE_ENV);
    try {
      const run = promisify(execFile);
      await run(process.execPath, argv.slice(1), { env: { ...process.env, PORT: String(service.port) } });
      await assert.rejects(run(process.execPath, argv.slice(1), { env: { ...process.env, PORT: '1' } }), 'fails when nothing listens');
    } finally {
      await service.shutdown();
    }
  });
});
