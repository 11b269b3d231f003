// The markdown form of the `npm run bench` report.
import type { Ratio, Summary, Triple } from './parse.ts';

export interface Report extends Summary {
  createdAt: string;
  durationSeconds: number;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  settings: Record<string, string | number>;
}

const digits = (x: number) => (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : Math.abs(x) >= 1 ? 2 : 3);
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(digits(x)) : 'n/a');
const fmtTriple = (t: Triple, unit = '') =>
  t.n === 0 ? 'n/a' : t.n === 1 ? `${fmt(t.median)}${unit}` : `${fmt(t.min)} / **${fmt(t.median)}** / ${fmt(t.max)}${unit}`;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

function ratioTable(ratios: Ratio[]): string {
  return table(
    ['comparison (same run)', 'ratio min / **median** / max'],
    ratios.map((r) => [r.what, fmtTriple(r.ratio, '×')]),
  );
}

export function renderMarkdown(report: Report): string {
  const out: string[] = [];
  const m = report.machine;
  out.push(`# star-api benchmark report`, '');
  out.push(
    `${report.createdAt} · ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB · Node ${m.node} · load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end · took ${Math.round(report.durationSeconds / 60)} min`,
  );
  out.push(
    '',
    `Figures are min / **median** / max over repeated runs (n in brackets where it matters). Ratios pair two figures from the same run, then summarise over runs. Settings: ${Object.entries(
      report.settings,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}.`,
    '',
  );

  if (report.engine.figures.length) {
    out.push('## Engine (gpu-service/bench/engine.ts, CPU)', '');
    out.push(
      "Seconds per image over the timed repeats after one warm-up, each configuration in its own process (peak RSS is that process's).",
      '',
    );
    out.push(
      table(
        ['model', 'precision', 'mode', 'batch', 's/image', 'generator s', 'decode s', 'peak RSS GiB', 'load s', 'n'],
        report.engine.figures.map((f) => [
          f.model,
          f.precision,
          f.mode,
          String(f.batch),
          fmtTriple(f.secondsPerImage),
          fmtTriple(f.generatorSeconds),
          fmtTriple(f.decodeSeconds),
          fmt(f.peakRssGiB),
          fmt(f.loadSeconds),
          String(f.secondsPerImage.n),
        ]),
      ),
    );
    out.push('', ratioTable(report.engine.ratios), '');
  }
  if (report.server) {
    const s = report.server;
    out.push(`## gpu-service (gpu-service/bench/server.ts: ${s.model} on ${s.device}, whole HTTP service)`, '');
    out.push(
      table(
        ['clients', 'images/s without batching', 'images/s with micro-batching', 'mean batch', 'p50 ms without', 'p50 ms with'],
        s.rows.map((r) => [
          String(r.clients),
          fmtTriple(r.offImagesPerSecond),
          fmtTriple(r.onImagesPerSecond),
          fmtTriple(r.meanBatch),
          fmtTriple(r.p50OffMs),
          fmtTriple(r.p50OnMs),
        ]),
      ),
    );
    out.push('', ratioTable(s.ratios), '');
  }
  if (report.edge) {
    const e = report.edge;
    out.push('## Edge (edge/bench/edge.bench.ts: workerd on loopback, GPU stand-in)', '');
    out.push(
      table(
        ['case', 'req/s', 'p50 ms', 'p99 ms'],
        e.rows.map((r) => [r.name, fmtTriple(r.rps), fmtTriple(r.p50), fmtTriple(r.p99)]),
      ),
    );
    out.push('', ratioTable(e.ratios), '');
    out.push(
      table(
        ['difference (same run)', 'ms min / **median** / max'],
        e.overheads.map((o) => [o.what, fmtTriple(o.ms, ' ms')]),
      ),
      '',
    );
  }
  if (report.decoder) {
    const d = report.decoder;
    out.push(
      `## VQVAE decoder vs upstream (gpu-service/bench/vqvae-decoder.ts --upstream: released shapes, random weights, ${d.threads} threads)`,
      '',
    );
    out.push(
      table(
        ['decoder', 's/decode'],
        [
          ['ours (onnxruntime, fp32)', fmtTriple(d.oursSeconds)],
          [`upstream (PyTorch ${d.upstreamVersion ?? 'n/a'}, fp32)`, fmtTriple(d.upstreamSeconds)],
        ],
      ),
    );
    out.push('', ratioTable(d.ratios), '');
  }
  return out.join('\n');
}
