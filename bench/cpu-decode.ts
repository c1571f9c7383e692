/**
 * Decode speed of Mamba-130M on the CPU against the memory-bandwidth roofline, with numpy's copy
 * bandwidth measured in the same run (rounds alternate between the two so that both meet the
 * same machine weather; each keeps its best).
 *
 *   node dist/bench/cpu-decode.js [--rounds 5] [--cli dist/src/cli/main.js ...] [--profile 48]
 *
 * A round runs `mamba-ts bench --model mamba-130m --json` (a fresh process: random weights,
 * prefill 128 tokens, then 32 decode steps at batch 1) once per --cli given (default: this
 * build's; pass another build's main.js to compare before and after), then bench/peer_numpy.py
 * (copy bandwidth only); prints decode tok/s per round and the best decode and prefill tok/s.
 * Roofline: copy GB/s / (4 bytes × parameters) tokens/s, since a decode step reads every weight
 * once. --profile N then times N decode steps in this process, each CPU
 * backend method separately: per op the median and the minimum over steps of its per-step total
 * (the minimum is close to what the op costs when no other process takes the core).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CpuBackend as Cpu } from '../src/backend/cpu/index.js';
import type { presetModel as PresetModel } from '../src/cli/model-arg.js';

function flags(name: string): string[] {
  return process.argv.flatMap((a, i) => (a === name && i + 1 < process.argv.length ? [process.argv[i + 1]] : []));
}

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const load1 = () => Number(loadavg()[0].toFixed(2));

interface CliRun { decode_tokens_per_s: number; prefill_tokens_per_s: number; params: number }

function runCli(main: string): CliRun {
  const r = spawnSync(process.execPath, [main, 'bench', '--model', 'mamba-130m', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${main} bench failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  return JSON.parse(r.stdout) as CliRun;
}

function copyBandwidth(): number {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const r = spawnSync('python3', [here('../../bench/peer_numpy.py')], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`peer_numpy.py failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  return (JSON.parse(r.stdout) as { copy_gbps: number }).copy_gbps;
}

type Profile = { wall: number[]; ops: [string, number, number, number][] };

/**
 * Per-op ms of `steps` decode steps of the build at `root` (its dist folder): [op, median, min,
 * calls per step], slowest first.
 */
async function profile(root: string, steps: number): Promise<Profile> {
  const from = (rel: string) => import(pathToFileURL(resolve(root, rel)).href);
  const { CpuBackend } = await from('src/backend/cpu/index.js') as { CpuBackend: typeof Cpu };
  const { presetModel } = await from('src/cli/model-arg.js') as { presetModel: typeof PresetModel };
  const be = new CpuBackend();
  let cur = new Map<string, [number, number]>();
  const methods = be as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of Object.getOwnPropertyNames(CpuBackend.prototype)) {
    const fn = methods[name];
    if (name === 'constructor' || typeof fn !== 'function') continue;
    methods[name] = (...a: unknown[]) => {
      const t = performance.now();
      const out = fn.apply(be, a);
      const e = cur.get(name) ?? [0, 0];
      e[0] += performance.now() - t;
      e[1]++;
      cur.set(name, e);
      return out;
    };
  }
  const model = presetModel('mamba-130m', be);
  let state = model.initState(1, steps + 8);
  const perStep: Map<string, [number, number]>[] = [];
  const wall: number[] = [];
  for (let i = 0; i < steps + 4; i++) {
    cur = new Map();
    const t = performance.now();
    const out = model.step(be.upload(new Int32Array([(i * 7919) % model.config.vocabSize]), [1]), state);
    state = out.state;
    await out.logits.read();
    if (i >= 4) { wall.push(performance.now() - t); perStep.push(cur); }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const ops = [...perStep[0].keys()].map((k): [string, number, number, number] => {
    const v = perStep.map((m) => m.get(k)?.[0] ?? 0);
    return [k, median(v), Math.min(...v), perStep[0].get(k)![1]];
  }).sort((a, b) => b[1] - a[1]);
  return { wall, ops };
}

function printProfile(name: string, steps: number, { wall, ops }: Profile, load: number): void {
  const med = [...wall].sort((a, b) => a - b)[wall.length >> 1];
  console.log(`\nper-op profile of ${steps} decode steps, ${name} (load ${load}): step median ${med.toFixed(2)} ms, best ${Math.min(...wall).toFixed(2)} ms`);
  console.log('op               | median ms | min ms | calls/step');
  for (const [k, m, mn, n] of ops) console.log(`${k.padEnd(16)} | ${m.toFixed(3).padStart(9)} | ${mn.toFixed(3).padStart(6)} | ${String(n).padStart(4)}`);
  const sum = (j: 1 | 2) => ops.reduce((s, o) => s + o[j], 0);
  console.log(`sum              | ${sum(1).toFixed(3).padStart(9)} | ${sum(2).toFixed(3).padStart(6)} |`);
}

async function main(): Promise<void> {
  const rounds = Number(flags('--rounds')[0] ?? 5);
  const clis = flags('--cli');
  if (clis.length === 0) clis.push(here('../src/cli/main.js'));
  const best = clis.map(() => 0), bestPrefill = clis.map(() => 0);
  let bestCopy = 0, params = 0;
  console.log(`${new Date().toISOString()}  ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, node ${process.version}`);
  console.log(`round | load | ${clis.map((_, i) => `tok/s [${i}]`).join(' | ')} | numpy copy GB/s`);
  for (let r = 0; r < rounds; r++) {
    const loads = [load1()];
    const toks = clis.map((c, i) => {
      const run = runCli(c);
      params = run.params;
      best[i] = Math.max(best[i], run.decode_tokens_per_s);
      bestPrefill[i] = Math.max(bestPrefill[i], run.prefill_tokens_per_s);
      return run.decode_tokens_per_s.toFixed(2).padStart(11);
    });
    const copy = copyBandwidth();
    bestCopy = Math.max(bestCopy, copy);
    loads.push(load1());
    console.log(`${String(r).padStart(5)} | ${loads.join('-')} | ${toks.join(' | ')} | ${copy.toFixed(1)}`);
  }
  const roofline = (bestCopy * 1e9) / (4 * params);
  console.log(`best copy ${bestCopy.toFixed(1)} GB/s -> roofline ${roofline.toFixed(1)} tok/s (${(params / 1e6).toFixed(1)}M params × 4 bytes per token)`);
  clis.forEach((c, i) => console.log(
    `[${i}] ${c}: decode best ${best[i].toFixed(2)} tok/s = ${(1000 / best[i]).toFixed(1)} ms/token = ` +
    `${(100 * best[i] / roofline).toFixed(0)}% of roofline; prefill best ${bestPrefill[i].toFixed(1)} tok/s`,
  ));

  const steps = Number(flags('--profile')[0] ?? 0);
  for (const c of steps > 0 ? clis : []) {
    // main.js is <dist>/src/cli/main.js; one child process per build
    const args = [fileURLToPath(import.meta.url), '--profile-child', resolve(c, '../../..'), '--profile', String(steps)];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`profile of ${c} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
    printProfile(c, steps, JSON.parse(r.stdout) as Profile, load1());
  }
}

const child = flags('--profile-child');
if (child.length > 0) process.stdout.write(JSON.stringify(await profile(child[0], Number(flags('--profile')[0]))));
else await main();
