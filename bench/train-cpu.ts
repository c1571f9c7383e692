/**
 * CPU training throughput: tokens/s of whole optimizer steps (forward, cross-entropy, backward
 * through the tape, gradient clipping, AdamW) as `mamba-ts train` runs them, through `train()`
 * itself on Brown corpus windows. The first steps (worker threads, WASM compilation, buffer
 * pools) are left out; the rest are timed from step end to step end.
 *
 *   node dist/bench/train-cpu.js [--d-model 448] [--layers 8] [--seq-len 512] [--batch 1] [--steps 6] [--warmup 2] [--json] [--profile]
 *
 * --profile wraps every CpuBackend method (forward kernels and the GradKernels of backward) with
 * a timer and prints, per op, ms per timed step and calls per step, slowest first; what is left of
 * the step (tape bookkeeping, the trainer, data) is the "outside the backend" row.
 *
 * No peer runs beside it on this machine: numpy has no autograd and PyTorch is not installed.
 */
import * as fs from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { layerStackConfig } from '../src/train/architecture.js';
import { BROWN } from '../src/train/data/corpus.js';
import { textSpec } from '../src/train/data/spec.js';
import { train } from '../src/train/trainer.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Times each CpuBackend method of `be` (the instance's own properties shadow the prototype's). */
function profileBackend(be: CpuBackend): { totals: Map<string, [number, number]>; clear: () => void; freeze: () => void } {
  let frozen = false;
  const totals = new Map<string, [number, number]>();
  const methods = be as unknown as Record<string, (...a: unknown[]) => unknown>;
  let depth = 0;
  for (const name of Object.getOwnPropertyNames(CpuBackend.prototype)) {
    const fn = methods[name];
    if (name === 'constructor' || typeof fn !== 'function') continue;
    methods[name] = (...a: unknown[]) => {
      if (depth > 0) return fn.apply(be, a);   // a method calling another counts once, as the outer
      depth++;
      const t = performance.now();
      try {
        return fn.apply(be, a);
      } finally {
        depth--;
        if (!frozen) {
        const e = totals.get(name) ?? [0, 0];
        e[0] += performance.now() - t;
        e[1]++;
        totals.set(name, e);
        }
      }
    };
  }
  return { totals, clear: () => totals.clear(), freeze: () => { frozen = true; } };
}

function printProfile(totals: Map<string, [number, number]>, steps: number, stepMs: number, load: number): void {
  const ops = [...totals].map(([k, [ms, n]]) => [k, ms / steps, n / steps] as const).sort((a, b) => b[1] - a[1]);
  const inside = ops.reduce((s, o) => s + o[1], 0);
  console.log(`\nper-op profile, ms per step over ${steps} steps (load ${load.toFixed(2)}): step ${(stepMs / steps).toFixed(0)} ms`);
  console.log('op                     | ms/step | share | calls/step');
  const row = (k: string, ms: number, n: string) =>
    console.log(`${k.padEnd(22)} | ${ms.toFixed(1).padStart(7)} | ${(100 * ms / (stepMs / steps)).toFixed(1).padStart(4)}% | ${n.padStart(5)}`);
  for (const [k, ms, n] of ops) row(k, ms, n.toFixed(0));
  row('(outside the backend)', stepMs / steps - inside, '');
}

async function main(): Promise<void> {
  const dModel = flag('d-model', 448), layers = flag('layers', 8), seqLen = flag('seq-len', 512), batch = flag('batch', 1);
  const warmup = flag('warmup', 2), timed = flag('steps', 6);
  const steps = warmup + timed;
  const model = layerStackConfig({
    layers: `mamba2*${layers}`, dModel, dState: 64, expand: 2, headDim: 64, heads: 1, dIntermediate: 0, vocabSize: 256,
  });
  const outDir = fs.mkdtempSync(path.join(tmpdir(), 'mamba-ts-bench-train-'));
  const ends: number[] = [];
  const load0 = loadavg()[0];
  const be = new CpuBackend();
  const prof = process.argv.includes('--profile') ? profileBackend(be) : undefined;
  try {
    const summary = await train({
      model, data: textSpec(BROWN, undefined, 0.1, seqLen),
      options: {
        steps, batchSize: batch, accumulate: 1, lr: 1e-3, minLr: 1e-4, warmupSteps: 1, weightDecay: 0.1, beta1: 0.9, beta2: 0.95,
        eps: 1e-8, clip: 1, evalEvery: steps, evalBatches: 1, logEvery: steps, checkpointEvery: { steps }, seed: 0,
      },
    }, {
      backend: be, outDir, reporter: { log: () => {} },
      onStep: () => { ends.push(performance.now()); if (ends.length === warmup) prof?.clear(); if (ends.length === steps) prof?.freeze(); },
    });
    const seconds = (ends[steps - 1] - ends[warmup - 1]) / 1000;
    const tokensPerSecond = (timed * batch * seqLen) / seconds;
    const result = {
      date: new Date().toISOString(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version,
      load: [load0, loadavg()[0]].map((l) => Number(l.toFixed(2))),
      model: `Mamba-2, ${layers} layers, d_model ${dModel}, headdim 64, N 64, byte-level`, parameters: summary.parameters,
      batch, seqLen, timedSteps: timed, secondsPerStep: seconds / timed, tokensPerSecond, peer: 'none on this machine (numpy has no autograd; no PyTorch)',
    };
    if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`${result.date}  ${result.cpu}, ${result.cores} cores, node ${result.node}, load ${result.load.join(' -> ')}`);
      console.log(`${result.model}: ${(result.parameters / 1e6).toFixed(2)}M parameters, batch ${batch} × ${seqLen}`);
      console.log(`${timed} steps after ${warmup} warm-up: ${result.secondsPerStep.toFixed(2)} s/step, ${tokensPerSecond.toFixed(0)} tokens/s ` +
        '(forward + backward + AdamW)');
      console.log(`peer: ${result.peer}`);
    }
    if (prof) printProfile(prof.totals, timed, seconds * 1000, loadavg()[0]);
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

await main();
