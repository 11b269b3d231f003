// Parity probes: the generator's per-scale values (its ScaleProbe hook) named
// as the star-tiny fixtures name them (fixtures/star-tiny README) and made
// graph outputs, so a parity check can compare each with its reference.
import type { Graph, Value } from '../onnx/graph.ts';
import { reshape, transpose } from '../onnx/ops.ts';
import type { GeneratorConfig } from '../models/generator/config.ts';
import type { ScaleProbe, ScaleValues } from '../models/generator/generator.ts';
import { scaleCount } from '../models/generator/config.ts';
import { varHeadStepCount } from '../models/generator/sampler-head.ts';

export class FixtureProbes {
  readonly cfg: GeneratorConfig;
  private readonly tapped = new Map<string, Value>();

  constructor(cfg: GeneratorConfig) {
    this.cfg = cfg;
  }

  /** The hook to build the generator graph with. */
  readonly probe: ScaleProbe = (si, values) => {
    for (const [name, value] of Object.entries(this.fixtureNames(si, values))) this.tapped.set(name, value);
  };

  /** Makes every tapped value a graph output under its fixture name (call once the graph is built). */
  addOutputs(g: Graph): void {
    for (const [name, v] of this.tapped) g.output(v, name);
  }

  private fixtureNames(si: number, v: ScaleValues): Record<string, Value> {
    const cfg = this.cfg;
    const s = `s${si}`;
    const named: Record<string, Value> = { [`${s}.x_in`]: v.xIn, [`${s}.hidden`]: v.hidden, [`${s}.logits`]: v.logits };
    if (v.mixed && v.samplerScale) {
      // teacher-forced without the sampler path: its VAR-head steps mix with the same t (§4.5)
      for (let k = 0; k < varHeadStepCount(cfg.sampleVersion, si); k++) named[`${s}.k${k}.mixed_logits`] = v.mixed;
    } else if (v.mixed) {
      named[`${s}.mixed_logits`] = v.mixed;
    }
    Object.assign(named, v.samplerSteps);
    named[`${s}.h_BChw`] = v.h;
    named[`${s}.f_hat`] = v.fHat;
    if (v.nextInput) {
      // upstream records the next scale's input as a map [B, Cvae, pn', pn']
      const pnNext = cfg.patchNums[si + 1];
      named[`${s}.next_map`] = reshape(transpose(v.nextInput, [0, 2, 1]), [0, cfg.cvae, pnNext, pnNext]);
    }
    if (si === scaleCount(cfg) - 1) named['final.f_hat'] = v.fHat;
    return named;
  }
}
