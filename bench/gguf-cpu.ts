/**
 * CPU decode and prefill of the same GGUF files in llama.cpp (node-llama-cpp's bundled CPU build,
 * 1 and 2 threads) and in mamba-ts: Mamba-130M- and Mamba-2-130M-shaped models (random weights,
 * the presets' seed), f32 and q8_0, batch 1, a 32-token prompt, then 64 greedy tokens.
 *
 *   node dist/bench/gguf-cpu.js [--rounds 3] [--dir DIR] [--budget 10]
 *
 * Rounds alternate between the engines so that all meet the same machine weather; each reports
 * the median of its rounds and mamba-ts / llama.cpp is the ratio of medians. mamba-ts
 * dequantizes q8_0 to f32 when it loads, so its q8_0 rows run f32 kernels. --dir keeps the
 * written GGUF files (about 1.3 GB) for another run; by default they go to a temporary folder
 * that is removed at the end. A decode that passes --budget seconds stops there and its rate is
 * over the tokens it made (on a machine busier than its cores, llama.cpp's threads wait for each
 * other at every op and 2 threads can fall below 1 token/s).
 */
import * as fs from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { writeGgufModel, type GgufFileType } from '../src/io/gguf/model.js';
import { loadModel } from '../src/model/load.js';
import { preset, randomWeights } from '../src/model/presets.js';

const PROMPT = 32;
const NEW = 64;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const load1 = () => loadavg()[0].toFixed(2);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

/** tokens/s, and how many tokens the decode made within the budget */
interface Timing { prefill: number; decode: number; tokens: number }

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

async function main(): Promise<void> {
  const rounds = Number(flag('--rounds', '3'));
  const budget = Number(flag('--budget', '10')) * 1000;
  const keep = process.argv.includes('--dir');
  const dir = keep ? flag('--dir', '') : fs.mkdtempSync(path.join(tmpdir(), 'gguf-cpu-'));
  fs.mkdirSync(dir, { recursive: true });
  console.log(`${new Date().toISOString()}  ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, node ${process.version}, load ${load1()}`);

  const files: { label: string; file: string }[] = [];
  for (const name of ['mamba-130m', 'mamba2-130m']) {
    const config = preset(name);
    let weights: ReturnType<typeof randomWeights> | undefined;
    for (const type of ['f32', 'q8_0'] as GgufFileType[]) {
      const file = path.join(dir, `${name}-${type}.gguf`);
      if (!fs.existsSync(file)) {
        weights ??= randomWeights(config, 0);
        writeGgufModel(file, config, weights, { type, name });
      }
      files.push({ label: `${name} ${type}`, file });
    }
  }

  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const cpu = new CpuBackend();
  const prompt = Array.from({ length: PROMPT }, (_, i) => 1 + ((i * 7919) % 50000));
  // mamba-ts's CPU pool takes the machine's cores, at most 8 (backend/cpu/pool.ts)
  const engines = ['llama.cpp 1 thread', 'llama.cpp 2 threads', `mamba-ts (${Math.min(8, availableParallelism())} threads)`];
  const results = new Map<string, Timing[]>();

  for (const { label, file } of files) {
    const lmodel = await llama.loadModel({ modelPath: file });
    const contexts = await Promise.all([1, 2].map((threads) => lmodel.createContext({ contextSize: 256, sequences: 1, threads })));
    const ours = await loadModel(file, cpu);
    const runLlama = async (i: number): Promise<Timing> => {
      const seq = contexts[i].getSequence();
      try {
        const t0 = performance.now();
        let t1 = 0;
        let n = 0;
        for await (const token of seq.evaluate(prompt as Token[], { temperature: 0 })) {
          void token;
          if (++n === 1) t1 = performance.now();
          if (n === NEW || performance.now() - t1 > budget) break;
        }
        return { prefill: PROMPT / ((t1 - t0) / 1000), decode: (n - 1) / ((performance.now() - t1) / 1000), tokens: n };
      } finally {
        seq.dispose();
      }
    };
    const runOurs = async (): Promise<Timing> => {
      const t0 = performance.now();
      let { logits, state } = ours.forward(ours.ids([prompt]), ours.initState(1, PROMPT + NEW));
      const [last] = await ours.readLogits(logits);
      let next = argmax(last);
      const t1 = performance.now();
      let n = 1;
      for (; n < NEW && performance.now() - t1 <= budget; n++) {
        ({ logits, state } = ours.step(ours.stepIds([next]), state));
        next = argmax((await ours.readLogits(logits))[0]);
      }
      return { prefill: PROMPT / ((t1 - t0) / 1000), decode: (n - 1) / ((performance.now() - t1) / 1000), tokens: n };
    };
    for (let r = 0; r < rounds; r++) {
      const line: string[] = [];
      for (const [i, engine] of engines.entries()) {
        const t = i < 2 ? await runLlama(i) : await runOurs();
        const key = `${label}|${engine}`;
        results.set(key, [...(results.get(key) ?? []), t]);
        line.push(`${engine} ${t.decode.toFixed(1)}${t.tokens < NEW ? ` (${t.tokens} tokens in the budget)` : ''}`);
      }
      console.log(`${label} round ${r} (load ${load1()}): decode tok/s ${line.join(', ')}`);
    }
    await Promise.all(contexts.map((c) => c.dispose()));
    await lmodel.dispose();
  }

  console.log(`\nbatch 1, prompt ${PROMPT}, ${NEW} new tokens, median of ${rounds} rounds (tokens/s); ratio = mamba-ts / llama.cpp`);
  console.log('model            | engine                 | prefill | decode | decode ratio vs llama.cpp 1t / 2t');
  for (const { label } of files) {
    const med = (engine: string, k: keyof Timing) => median(results.get(`${label}|${engine}`)!.map((t) => t[k]));
    for (const engine of engines) {
      const ratio = engine.startsWith('mamba-ts')
        ? `${(med(engine, 'decode') / med(engines[0], 'decode')).toFixed(2)} / ${(med(engine, 'decode') / med(engines[1], 'decode')).toFixed(2)}`
        : '';
      console.log(`${label.padEnd(16)} | ${engine.padEnd(22)} | ${med(engine, 'prefill').toFixed(1).padStart(7)} | ${med(engine, 'decode').toFixed(1).padStart(6)} | ${ratio}`);
    }
  }
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
}

await main();
