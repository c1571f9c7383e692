import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpu, host, maxAbsDiff, randn, rng, silu64, sliceL, t } from './cpu-util.js';
import { selectiveScanRef } from './reference/selective-scan.js';
import { selectiveScanLoops } from '../src/backend/cpu/selective-scan.js';
import { ssdRef } from './reference/ssd.js';

// ---- Mamba-1 selective scan: sequential float64 recurrence --------------------------------------

interface ScanCase { B: number; L: number; D: number; N: number; u: Float32Array; delta: Float32Array; A: Float32Array;
  Bm: Float32Array; Cm: Float32Array; Dskip: Float32Array; z: Float32Array; bias: Float32Array; h0: Float32Array }

function scanCase(seed: number, B: number, L: number, D: number, N: number): ScanCase {
  const r = rng(seed);
  const A = new Float32Array(D * N);
  for (let i = 0; i < A.length; i++) A[i] = -Math.exp(Math.log(1 + (i % N)) + 0.3 * (r() - 0.5));
  return { B, L, D, N, A, u: randn(r, B * L * D), delta: randn(r, B * L * D, -3, 1), Bm: randn(r, B * L * N),
    Cm: randn(r, B * L * N), Dskip: randn(r, D), z: randn(r, B * L * D, -2, 2), bias: randn(r, D, -4, -2),
    h0: randn(r, B * D * N, -0.5, 0.5) };
}

function scanCaseRef(c: ScanCase, softplus = true): { y: Float64Array; h: Float64Array } {
  const [y, h] = selectiveScanRef({ u: c.u, delta: c.delta, A: c.A, Bm: c.Bm, Cm: c.Cm, Dskip: c.Dskip, z: softplus ? c.z : undefined,
    bias: c.bias, state: c.h0 }, c.B, c.L, c.D, c.N, softplus);
  return { y, h };
}

function runScan(c: ScanCase, lo: number, hi: number, h0: Float32Array) {
  const { B, D, N } = c;
  const Ls = hi - lo;
  const cut = (a: Float32Array, w: number) => t(sliceL(a, [B, c.L, w], lo, hi), [B, Ls, w]);
  return cpu.selectiveScan({
    u: cut(c.u, D), delta: cut(c.delta, D), A: t(c.A, [D, N]), Bmat: cut(c.Bm, N), Cmat: cut(c.Cm, N),
    Dskip: t(c.Dskip, [D]), z: cut(c.z, D), deltaBias: t(c.bias, [D]), deltaSoftplus: true, state: t(h0, [B, D, N]),
  });
}

test('selectiveScan matches the sequential recurrence (initial state, D, z gate, softplus bias)', () => {
  const c = scanCase(1, 2, 23, 6, 5);
  const ref = scanCaseRef(c);
  const got = runScan(c, 0, c.L, c.h0);
  assert.ok(maxAbsDiff(host(got.y), ref.y) < 1e-5, `y err ${maxAbsDiff(host(got.y), ref.y)}`);
  assert.ok(maxAbsDiff(host(got.state), ref.h) < 1e-5, `h err ${maxAbsDiff(host(got.state), ref.h)}`);
});

test('selectiveScan SIMD kernel = its plain loops: D and N not multiples of 4, L 300 (two kernel calls), with and without the gate', () => {
  for (const [seed, B, L, D, N] of [[5, 2, 7, 5, 3], [6, 1, 300, 6, 16], [7, 3, 2, 1, 1]]) {
    const c = scanCase(seed, B, L, D, N);
    for (const gate of [true, false]) {
      const args = {
        u: t(c.u, [B, L, D]), delta: t(c.delta, [B, L, D]), A: t(c.A, [D, N]), Bmat: t(c.Bm, [B, L, N]), Cmat: t(c.Cm, [B, L, N]),
        Dskip: t(c.Dskip, [D]), z: gate ? t(c.z, [B, L, D]) : undefined, deltaBias: t(c.bias, [D]), deltaSoftplus: true, state: t(c.h0, [B, D, N]),
      };
      const got = cpu.selectiveScan(args), want = selectiveScanLoops(args);
      const e = Math.max(maxAbsDiff(host(got.y), host(want.y)), maxAbsDiff(host(got.state), host(want.state)));
      assert.ok(e < 1e-5, `B ${B} L ${L} D ${D} N ${N} gate ${gate}: err ${e}`);
    }
  }
});

test('selectiveScan chained over a split sequence equals one pass', () => {
  const c = scanCase(2, 2, 19, 4, 3);
  const whole = runScan(c, 0, c.L, c.h0);
  const first = runScan(c, 0, 7, c.h0);
  const second = runScan(c, 7, c.L, host(first.state));
  const y = new Float32Array(whole.y.size);
  for (let b = 0; b < c.B; b++) {
    y.set(host(first.y).subarray(b * 7 * c.D, (b + 1) * 7 * c.D), b * c.L * c.D);
    y.set(host(second.y).subarray(b * 12 * c.D, (b + 1) * 12 * c.D), (b * c.L + 7) * c.D);
  }
  assert.ok(maxAbsDiff(y, host(whole.y)) < 1e-6);
  assert.ok(maxAbsDiff(host(second.state), host(whole.state)) < 1e-6);
});

test('selectiveScan SIMD kernel on shapes that pad: D 4k+1..4k+3, N 1..7, B 3, L 1 (a decode step), L 600 (3 kernel calls)', () => {
  for (const [seed, B, L, D, N] of [[11, 3, 9, 7, 1], [12, 1, 1, 13, 6], [13, 2, 4, 9, 7], [14, 3, 1, 10, 16], [15, 1, 33, 3, 4], [17, 2, 600, 5, 3]]) {
    const c = scanCase(seed, B, L, D, N);
    const ref = scanCaseRef(c);
    const got = runScan(c, 0, L, c.h0);
    const ey = maxAbsDiff(host(got.y), ref.y), eh = maxAbsDiff(host(got.state), ref.h);
    assert.ok(ey < 1e-5 && eh < 1e-5, `B ${B} L ${L} D ${D} N ${N}: y err ${ey}, h err ${eh}`);
  }
});

test('selectiveScan without z, D, bias, softplus or an initial state', () => {
  const c = scanCase(16, 2, 5, 6, 3);
  const { B, L, D, N } = c;
  c.delta = c.delta.map(Math.abs); // Δ ≥ 0 without softplus, or the state grows as e^(|Δ A| L)
  const got = cpu.selectiveScan({ u: t(c.u, [B, L, D]), delta: t(c.delta, [B, L, D]), A: t(c.A, [D, N]), Bmat: t(c.Bm, [B, L, N]),
    Cmat: t(c.Cm, [B, L, N]), deltaSoftplus: false });
  const ref = scanCaseRef({ ...c, h0: new Float32Array(B * D * N), Dskip: new Float32Array(D), bias: new Float32Array(D) }, false);
  const ey = maxAbsDiff(host(got.y), ref.y), eh = maxAbsDiff(host(got.state), ref.h);
  assert.ok(ey < 1e-5 && eh < 1e-5, `y err ${ey}, h err ${eh}`);
});

/** ulps of the f32 result between got and the float64 value want (ulp of want's binade) */
function ulps(got: number, want: number): number {
  return Math.abs(got - want) / 2 ** (Math.max(Math.floor(Math.log2(Math.abs(want))), -126) - 23);
}

test('selectiveScan exp: within 2 ulp over [-103, 88.7], subnormal and 0 below, +inf above, NaN stays NaN', () => {
  // dt = 1, B = 0, h0 = 1: the final state is e^A, element by element
  const special = [-1e30, -Infinity, -200, -104, -88, 88.8, 1e30, Infinity, NaN, 0, -0];
  const n = 200003;
  const x = new Float32Array(n + special.length);
  for (let i = 0; i < n; i++) x[i] = -103 + (88.7 + 103) * (i / (n - 1));
  x.set(special, n);
  const N = x.length;
  const h = host(cpu.selectiveScan({ u: t(new Float32Array(1), [1, 1, 1]), delta: t(new Float32Array([1]), [1, 1, 1]), A: t(x, [1, N]),
    Bmat: t(new Float32Array(N), [1, 1, N]), Cmat: t(new Float32Array(N), [1, 1, N]), deltaSoftplus: false,
    state: t(new Float32Array(N).fill(1), [1, 1, N]) }).state);
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, ulps(h[i], Math.exp(x[i])));
  assert.ok(worst <= 2, `max error ${worst} ulp`);
  assert.deepEqual([...h.subarray(n)], [0, 0, 0, 0, Math.fround(Math.exp(-88)), Infinity, Infinity, Infinity, NaN, 1, 1]);
});

test('selectiveScan softplus (A = 0, B = u = 1: state = Δ) and silu gate (C = 0, D = u = 1: y = silu(z)) within 3 ulp', () => {
  const n = 100001;
  const x = Float32Array.from({ length: n }, (_, i) => -88 + 176 * (i / (n - 1)));
  const got = cpu.selectiveScan({ u: t(new Float32Array(n).fill(1), [1, 1, n]), delta: t(x, [1, 1, n]), A: t(new Float32Array(n), [n, 1]),
    Bmat: t(new Float32Array([1]), [1, 1, 1]), Cmat: t(new Float32Array(1), [1, 1, 1]), Dskip: t(new Float32Array(n).fill(1), [n]),
    z: t(x, [1, 1, n]), deltaSoftplus: true });
  const sp = host(got.state), y = host(got.y);
  let eSp = 0, eSilu = 0;
  for (let i = 0; i < n; i++) {
    eSp = Math.max(eSp, ulps(sp[i], x[i] > 20 ? x[i] : Math.log1p(Math.exp(x[i]))));
    eSilu = Math.max(eSilu, ulps(y[i], silu64(x[i])));
  }
  assert.ok(eSp <= 3 && eSilu <= 3, `softplus ${eSp} ulp, silu ${eSilu} ulp`);
});

// ---- Mamba-2 SSD: chunked kernel against the sequential recurrence -------------------------------

interface SsdCase { B: number; L: number; H: number; P: number; G: number; N: number; x: Float32Array; dt: Float32Array;
  A: Float32Array; Bm: Float32Array; Cm: Float32Array; D: Float32Array; dtBias: Float32Array; h0: Float32Array }

function ssdCase(seed: number, B: number, L: number, H: number, P: number, G: number, N: number, dHasHdim: boolean): SsdCase {
  const r = rng(seed);
  return { B, L, H, P, G, N, x: randn(r, B * L * H * P), dt: randn(r, B * L * H, -3, 1),
    A: Float32Array.from({ length: H }, () => -(1 + 15 * r())), Bm: randn(r, B * L * G * N), Cm: randn(r, B * L * G * N),
    D: randn(r, dHasHdim ? H * P : H), dtBias: randn(r, H, -3, -1), h0: randn(r, B * H * P * N, -0.5, 0.5) };
}

function ssdCaseRef(c: SsdCase, limit: [number, number]): { y: Float64Array; h: Float64Array } {
  const [y, h] = ssdRef({ x: c.x, dt: c.dt, A: c.A, Bm: c.Bm, Cm: c.Cm, Dskip: c.D, bias: c.dtBias, state: c.h0 },
    { B: c.B, L: c.L, H: c.H, P: c.P, G: c.G, N: c.N, limit, dPerChannel: c.D.length !== c.H });
  return { y, h };
}

function runSsd(c: SsdCase, lo: number, hi: number, h0: Float32Array | undefined, chunkSize: number, dtLimit: [number, number]) {
  const { B, L, H, P, G, N } = c;
  const Ls = hi - lo;
  return cpu.ssdChunked({
    x: t(sliceL(c.x, [B, L], lo, hi), [B, Ls, H, P]), dt: t(sliceL(c.dt, [B, L], lo, hi), [B, Ls, H]), A: t(c.A, [H]),
    Bmat: t(sliceL(c.Bm, [B, L], lo, hi), [B, Ls, G, N]), Cmat: t(sliceL(c.Cm, [B, L], lo, hi), [B, Ls, G, N]),
    Dskip: t(c.D, c.D.length === H ? [H] : [H, P]), dtBias: t(c.dtBias, [H]), dtSoftplus: true, dtLimit, chunkSize,
    state: h0 ? t(h0, [B, H, P, N]) : undefined,
  });
}

const noLimit: [number, number] = [0, Infinity];

test('ssdChunked = sequential recurrence: L 37 not a multiple of chunk 8, ngroups 2, initial state', () => {
  const c = ssdCase(3, 2, 37, 4, 3, 2, 5, false);
  const ref = ssdCaseRef(c, noLimit);
  const got = runSsd(c, 0, c.L, c.h0, 8, noLimit);
  const ey = maxAbsDiff(host(got.y), ref.y);
  const eh = maxAbsDiff(host(got.state), ref.h);
  assert.ok(ey < 1e-5 && eh < 1e-5, `y err ${ey}, state err ${eh}`);
});

test('ssdChunked: chunk sizes 1, 5, 64 agree; D per channel; dt limit clamps', () => {
  const c = ssdCase(4, 1, 21, 6, 2, 3, 4, true);
  const limit: [number, number] = [0.05, 0.4];
  const ref = ssdCaseRef(c, limit);
  for (const q of [1, 5, 64]) {
    const got = runSsd(c, 0, c.L, c.h0, q, limit);
    const e = Math.max(maxAbsDiff(host(got.y), ref.y), maxAbsDiff(host(got.state), ref.h));
    assert.ok(e < 1e-5, `chunk ${q}: err ${e}`);
  }
});

test('ssdChunked chained (zero start, split mid-chunk) equals one pass', () => {
  const c = ssdCase(5, 2, 30, 2, 4, 1, 3, false);
  const zero = new Float32Array(c.B * c.H * c.P * c.N);
  const whole = runSsd(c, 0, c.L, undefined, 8, noLimit);
  const ref = ssdCaseRef({ ...c, h0: zero }, noLimit);
  assert.ok(maxAbsDiff(host(whole.y), ref.y) < 1e-5);
  const first = runSsd(c, 0, 11, undefined, 8, noLimit);
  const second = runSsd(c, 11, c.L, host(first.state), 8, noLimit);
  assert.ok(maxAbsDiff(host(second.y), sliceL(host(whole.y), [c.B, c.L], 11, c.L)) < 1e-5);
  assert.ok(maxAbsDiff(host(second.state), host(whole.state)) < 1e-5);
});

test('ssdChunked stays finite and exact when the decay within a chunk underflows (segsum)', () => {
  const c = ssdCase(6, 1, 300, 2, 2, 1, 3, false);
  c.A.fill(-16);
  c.dtBias.fill(4);   // Δ ≈ 4: the cumulative log-decay reaches about -19000 inside a 256-chunk
  const ref = ssdCaseRef(c, noLimit);
  const got = runSsd(c, 0, c.L, c.h0, 256, noLimit);
  assert.ok(host(got.y).every(Number.isFinite));
  assert.ok(maxAbsDiff(host(got.y), ref.y) < 1e-4, `err ${maxAbsDiff(host(got.y), ref.y)}`);
  assert.ok(maxAbsDiff(host(got.state), ref.h) < 1e-5);
});
