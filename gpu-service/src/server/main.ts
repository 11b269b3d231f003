// Entry point: `node src/server/main.ts`. Reads configuration once, starts the
// service, and turns SIGTERM/SIGINT into a graceful drain and exit 0.
import { ConfigError, loadConfig } from './config.ts';
import { startService } from './server.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`gpu-service: configuration error: ${error.message}`);
  process.exit(2);
}

const service = await startService(config);
console.log(
  `gpu-service listening on ${service.url} (models ${config.models.join(', ')}, device ${config.device}, max batch ${config.maxBatch})`,
);
service.ready.then(
  () => console.log('gpu-service ready'),
  (error: unknown) => {
    console.error(`gpu-service: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);

// In-flight requests have already been answered 500; a fresh process is the cleanest recovery.
void service.engineFailed.then((error) => {
  console.error(`gpu-service: ${error.message}; exiting for a restart`);
  setTimeout(() => process.exit(1), 500).unref();
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    console.log(`gpu-service: ${signal}, draining`);
    service.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('gpu-service: shutdown failed', error);
        process.exit(1);
      },
    );
  });
}
