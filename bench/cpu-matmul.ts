/**
 * CPU matmul against numpy/OpenBLAS, side by side in one run (rounds alternate between the two so
 * that both see the same machine weather; each keeps its best).
 *
 *   node dist/bench/cpu-matmul.js [--rounds 3] [--threads N] [--no-decode] [--json]
 *
 * Rows: sgemm on the Linear layout (x [M, K] · W[N, K]^T, W pinned) in GFLOP/s and in GB/s of W
 * read, against numpy's matmul and numpy's copy bandwidth (np.copyto, read + write counted).
 * "decode": every M = 1 matvec of one Mamba-130M decode step (24 layers of in_proj, x_proj,
 * dt_proj, out_proj, then the tied 50280 × 768 lm_head), random weights, against the roofline
 * copy bandwidth / (4 bytes × parameters).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gemmThreads, pinWeight, setGemmThreads, sgemm, unpinWeight } from '../src/backend/cpu/gemm.js';
import { benchMatmul } from '../src/cli/bench-matmul.js';

const SHAPES: [number, number, number][] = [
  [1024, 1024, 1024],
  [256, 3072, 768],
  [64, 3072, 768],
  [4, 3072, 768],
  [1, 3072, 768],
  [1, 768, 1536],
  [1, 50280, 768],
];

interface Peer { numpy: string; shapes: { m: number; n: number; k: number; gflops: number }[]; copy_gbps: number }

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function runPeer(): Peer | string {
  const script = fileURLToPath(new URL('../../bench/peer_numpy.py', import.meta.url));
  const env = { ...process.env };
  // a tuned OpenBLAS setting meant for another machine would skew the peer
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const args = [script, ...SHAPES.flatMap((s) => ['--shape', ...s.map(String)])];
  const r = spawnSync('python3', args, { encoding: 'utf8', env });
  if (r.error) return `python3 not runnable (${r.error.message})`;
  if (r.status !== 0) return `python3 ${script} failed: ${(r.stderr || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout) as Peer;
}

/** Mamba-130M (d_model 768, d_inner 1536, d_state 16, dt_rank 48, 24 layers, vocab 50280). */
const MAMBA_130M = { layers: 24, dModel: 768, dInner: 1536, dState: 16, dtRank: 48, dConv: 4, vocab: 50280 };

/** [N, K] of every matvec of one layer, and the parameters outside matmuls (conv, A, D, norm). */
function mambaShapes() {
  const { dModel: d, dInner: e, dState: n, dtRank: r, dConv: c } = MAMBA_130M;
  const linears: [number, number][] = [[2 * e, d], [r + 2 * n, e], [e, r], [d, e]];
  const other = e * c + e + e * n + e + e /* dt_proj bias */ + d;
  return { linears, other };
}

/** Best ms of one decode step's matvecs (weights pinned, M = 1). */
function benchDecode(rounds: number): { ms: number; params: number } {
  const { linears, other } = mambaShapes();
  const { layers, dModel, vocab } = MAMBA_130M;
  const weights = [];
  for (let l = 0; l < layers; l++) {
    for (const [N, K] of linears) weights.push({ N, K, w: pinWeight(new Float32Array(N * K).fill(0.01)) });
  }
  weights.push({ N: vocab, K: dModel, w: pinWeight(new Float32Array(vocab * dModel).fill(0.01)) });
  const params = weights.reduce((s, x) => s + x.N * x.K, 0) + layers * other + dModel;
  const x = new Float32Array(4096).fill(0.5);
  const y = new Float32Array(vocab);
  let best = Infinity;
  for (let r = 0; r < rounds * 5; r++) {
    const t = performance.now();
    for (const { N, K, w } of weights) sgemm(1, N, K, x, w, true, y);
    best = Math.min(best, performance.now() - t);
  }
  for (const { w } of weights) unpinWeight(w);
  return { ms: best, params };
}

function main(): void {
  const rounds = Number(flag('--rounds') ?? 3);
  if (flag('--threads')) setGemmThreads(Number(flag('--threads')));
  const json = process.argv.includes('--json');
  const decode = !process.argv.includes('--no-decode');

  const ours = SHAPES.map(() => Infinity);
  let peer: Peer | string = 'not run';
  let peerBest: number[] = SHAPES.map(() => 0);
  let copy = 0;
  for (let r = 0; r < rounds; r++) {
    const p = runPeer();
    if (typeof p === 'string') peer = p;
    else {
      peer = p;
      peerBest = peerBest.map((g, i) => Math.max(g, p.shapes[i].gflops));
      copy = Math.max(copy, p.copy_gbps);
    }
    SHAPES.forEach(([m, n, k], i) => { ours[i] = Math.min(ours[i], benchMatmul(m, n, k).ms); });
  }
  const dec = decode ? benchDecode(rounds) : null;

  const rows = SHAPES.map(([m, n, k], i) => {
    const ms = ours[i];
    const gflops = (2 * m * n * k) / ms / 1e6;
    const gbps = (4 * n * k) / ms / 1e6;
    return {
      m, n, k, ms, gflops, weightGBs: gbps,
      numpyGflops: peerBest[i] || null,
      ratio: peerBest[i] ? gflops / peerBest[i] : null,
      ofCopyBandwidth: copy ? gbps / copy : null,
    };
  });
  const decodeRow = dec && {
    msPerToken: dec.ms, params: dec.params, tokPerS: 1000 / dec.ms,
    weightGBs: (4 * dec.params) / dec.ms / 1e6,
    rooflineTokPerS: copy ? (copy * 1e9) / (4 * dec.params) : null,
  };
  const peerInfo = typeof peer === 'string' ? `missing: ${peer}` : `numpy ${peer.numpy}`;
  const machine = {
    date: new Date().toISOString(), cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version,
    // other processes' load during the run: on a shared machine, the context for every number
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
  };

  if (json) {
    console.log(JSON.stringify({ ...machine, threads: gemmThreads(), peer: peerInfo, copyGBs: copy || null, rows, decode: decodeRow }, null, 2));
    return;
  }
  console.log(`${machine.date}  ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load average ${machine.loadavg.join(' ')}`);
  console.log(`sgemm (x · W^T, W pinned), ${gemmThreads()} threads, best of ${rounds} rounds; peer: ${peerInfo}`);
  if (copy) console.log(`numpy copy bandwidth (read + write): ${copy.toFixed(1)} GB/s`);
  const f = (v: number | null, d = 1) => (v === null ? '-' : v.toFixed(d));
  console.log('M      N      K     |  ms       GFLOP/s  W GB/s | numpy GFLOP/s  ratio | W GB/s / copy');
  for (const r of rows) {
    console.log(
      `${String(r.m).padEnd(6)} ${String(r.n).padEnd(6)} ${String(r.k).padEnd(5)} | ${r.ms.toFixed(3).padStart(8)} ${f(r.gflops).padStart(8)} ${f(r.weightGBs).padStart(7)} | ` +
      `${f(r.numpyGflops).padStart(13)} ${f(r.ratio, 2).padStart(6)} | ${f(r.ofCopyBandwidth, 2).padStart(6)}`,
    );
  }
  if (decodeRow) {
    console.log(
      `decode matvecs of Mamba-130M (${(decodeRow.params / 1e6).toFixed(1)}M params): ${decodeRow.msPerToken.toFixed(2)} ms/token = ` +
      `${decodeRow.tokPerS.toFixed(1)} tok/s, ${decodeRow.weightGBs.toFixed(1)} GB/s of weights` +
      (decodeRow.rooflineTokPerS ? `; roofline ${decodeRow.rooflineTokPerS.toFixed(1)} tok/s -> ${(decodeRow.tokPerS / decodeRow.rooflineTokPerS * 100).toFixed(0)}%` : ''),
    );
  }
}

main();
