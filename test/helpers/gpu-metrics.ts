// Reads the gpu-service's Prometheus text through a signed GET /metrics, the
// way an operator's scraper would, and sums a metric over its label sets.
import { signedHeaders } from '../../gpu-service/src/server/auth.ts';
import type { Stack } from '../../scripts/lib/stack.ts';

async function gpuMetrics(stack: Pick<Stack, 'gpuUrl' | 'secrets'>): Promise<string> {
  const res = await fetch(`${stack.gpuUrl}/metrics`, { headers: signedHeaders(stack.secrets.GPU_SHARED_SECRET, 'GET', '/metrics', '') });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`);
  return res.text();
}

/** Sum of every sample of `name` whose labels include `labels` (e.g. `type="client_closed"`). */
function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if (labels && !(match[2] ?? '').includes(labels)) continue;
    sum += Number(match[3]);
  }
  return sum;
}

export async function gpuMetric(stack: Pick<Stack, 'gpuUrl' | 'secrets'>, name: string, labels = ''): Promise<number> {
  return metricSum(await gpuMetrics(stack), name, labels);
}
