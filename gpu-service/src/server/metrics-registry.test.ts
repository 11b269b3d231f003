import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Counter, Histogram, Registry } from './metrics-registry.ts';

it('renders counters with escaped labels and cumulative histogram buckets', () => {
  const registry = new Registry();
  const errors = registry.register(new Counter('errors_total', 'Errors.'));
  const latency = registry.register(new Histogram('latency_seconds', 'Latency.', [0.1, 1]));
  errors.inc({ type: 'a"b' });
  errors.inc({ type: 'a"b' }, 2);
  latency.observe(0.05);
  latency.observe(0.5);
  latency.observe(5);
  assert.equal(
    registry.render(),
    [
      '# HELP errors_total Errors.',
      '# TYPE errors_total counter',
      'errors_total{type="a\\"b"} 3',
      '# HELP latency_seconds Latency.',
      '# TYPE latency_seconds histogram',
      'latency_seconds_bucket{le="0.1"} 1',
      'latency_seconds_bucket{le="1"} 2',
      'latency_seconds_bucket{le="+Inf"} 3',
      'latency_seconds_sum 5.55',
      'latency_seconds_count 3',
      '',
    ].join('\n'),
  );
});
