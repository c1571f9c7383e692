/**
 * The GEMM thread pool: the main thread plus lazily started workers share the chunks of one plan.
 *
 * Protocol (one small SharedArrayBuffer, `ctrl`):
 * - the main thread writes the plan between `beginPlan` and `run` with PLANSEQ odd (a sequence
 *   lock) and the job's gen in it, sets NEXT = gen << 16 (gen: 16-bit job number, index 0),
 *   zeroes the job's DONE counter, then sets SEQ = gen and wakes the workers;
 * - a worker copies the plan and keeps the copy only when PLANSEQ was even and unchanged around
 *   it and the copy's gen is the SEQ it woke for: a worker that wakes late, while the main thread
 *   already writes the next plan, must not claim with a torn copy (a chunk count of the next
 *   job would let it claim past the end of the finished one);
 * - every participant claims chunk indices by compare-and-swap on NEXT; a claim whose gen is not
 *   the current one fails, so a worker that read a stale plan never runs it;
 * - a finished chunk is counted in DONE and flagged with the job id; the main thread claims
 *   chunks too (a job never waits for a worker that is still starting) and returns when all are
 *   done.
 *
 * Stragglers. On a shared machine a worker can be descheduled in the middle of its chunk for a
 * whole time slice (milliseconds), which would stall a decode step that issues ~100 matmuls. When
 * a plan's chunks write C only once (a single k block), the main thread waits about one chunk's
 * time for the last ones and then computes any still unflagged chunk itself: both copies write
 * identical values. The late worker may still be writing after `run` returns, so plans alternate
 * between two scratch regions, and a region is reused only when no worker is BUSY in it.
 *
 * Workers spin briefly before sleeping in Atomics.wait: a decode step issues matmuls a few tens of
 * microseconds apart, and a futex wake-up costs about as much. They are unref()'d: an idle pool
 * never keeps the process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Kernel, WasmMemory, WasmModule } from './wasm/api.js';
import { F, type Plan, runChunk } from './pool-job.js';

export const enum Ctrl {
  Seq, Next, Error,
  /** chunks run by workers since the start (a diagnostic for tests and benchmarks) */
  WorkerChunks,
  /** per scratch region: chunks done of the region's current job; workers inside a chunk */
  Done0, Done1, Busy0, Busy1,
  /** workers that have started */
  Ready,
  /** odd while the main thread writes a plan, even once it is whole (a sequence lock) */
  PlanSeq,
  /** per chunk index (< FLAGGED_CHUNKS): the id of the last job that finished it */
  ChunkDone = 16,
  PlanAt = ChunkDone + 64,
}

/** chunks that carry a done flag; the main thread takes over chunks only in plans with no more */
export const FLAGGED_CHUNKS = 64;

/** how long (ms) a worker spins for the next job before sleeping */
export const WORKER_SPIN_MS = 0.5;
/** how long (ms) the main thread spins for workers to finish before sleeping */
const MAIN_SPIN_MS = 0.05;
/** jobs run single-threaded once the workers fell behind (see Pool.adapt) */
const SOLO_JOBS = 128;

export interface PoolInit {
  module: WasmModule;
  memory: WasmMemory;
  ctrl: Int32Array;
  id: number;
}

/** Claims the next chunk of job `gen`, or returns -1 when there is none (or the job changed). */
export function claim(ctrl: Int32Array, gen: number, chunks: number): number {
  for (;;) {
    const v = Atomics.load(ctrl, Ctrl.Next);
    const idx = v & 0xffff;
    if (v >>> 16 !== gen || idx >= chunks) return -1;
    if (Atomics.compareExchange(ctrl, Ctrl.Next, v, v + 1) === v) return idx;
  }
}

/** Records chunk i of the plan's job as done; wakes the main thread after the last one. */
export function chunkDone(ctrl: Int32Array, plan: Plan, i: number): void {
  if (i < FLAGGED_CHUNKS) Atomics.store(ctrl, Ctrl.ChunkDone + i, plan[F.Job]);
  const slot = Ctrl.Done0 + plan[F.Region];
  if (Atomics.add(ctrl, slot, 1) + 1 === plan[F.Chunks]) Atomics.notify(ctrl, slot);
}

export class Pool {
  readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * (Ctrl.PlanAt + F.Size)));
  /** the plan fields; fill before `run` */
  readonly plan: Plan = this.ctrl.subarray(Ctrl.PlanAt);
  private readonly workers: Worker[] = [];
  private gen = 0;
  private job = 0;
  private region = 0;
  private broken = false;
  /** running average of the share of chunks the workers ran in threaded jobs */
  private workerShare = 1;
  /** jobs still to run on the main thread alone, after the workers fell behind */
  private soloJobs = 0;

  constructor(
    private readonly module: WasmModule,
    private readonly memory: WasmMemory,
    private readonly kernels: readonly Kernel[],
    /**
     * threads in all, the main thread included: the machine's cores, at most 8 (decode is memory
     * bound and saturates with a few; more workers would only spin)
     */
    public threads = Math.max(1, Math.min(8, availableParallelism())),
  ) {}

  /**
   * The scratch region (0 or 1) the next plan must use; waits until no worker is still inside
   * a chunk of an earlier job there.
   */
  nextRegion(): number {
    this.region ^= 1;
    waitUntil(this.ctrl, Ctrl.Busy0 + this.region, (v) => v === 0, MAIN_SPIN_MS);
    return this.region;
  }

  /** The plan to fill for the next `run`; workers ignore it until `run` publishes it. */
  beginPlan(): Plan {
    if ((Atomics.load(this.ctrl, Ctrl.PlanSeq) & 1) === 0) Atomics.add(this.ctrl, Ctrl.PlanSeq, 1);
    return this.plan;
  }

  /** Runs every chunk of the plan `beginPlan` gave (it uses region `nextRegion()`) on up to `threads` threads. */
  run(threads: number): void {
    const p = this.plan, ctrl = this.ctrl;
    const chunks = p[F.Chunks];
    if (this.soloJobs > 0 && threads > 1) {
      this.soloJobs--;
      threads = 1;
    }
    if (threads <= 1 || chunks < 2 || this.broken) {
      for (let i = 0; i < chunks; i++) runChunk(this.kernels, p, i, 0);
      return;
    }
    this.start(threads - 1);
    p[F.Threads] = threads;
    p[F.Region] = this.region;
    p[F.Job] = this.job = (this.job + 1) | 0;
    this.gen = (this.gen + 1) & 0xffff;
    p[F.Gen] = this.gen;
    if (Atomics.load(ctrl, Ctrl.PlanSeq) & 1) Atomics.add(ctrl, Ctrl.PlanSeq, 1);
    const done = Ctrl.Done0 + this.region;
    Atomics.store(ctrl, done, 0);
    Atomics.store(ctrl, Ctrl.Error, 0);
    Atomics.store(ctrl, Ctrl.Next, this.gen << 16);
    Atomics.store(ctrl, Ctrl.Seq, this.gen);
    Atomics.notify(ctrl, Ctrl.Seq);

    const t0 = performance.now();
    let mine = 0;
    for (let i; (i = claim(ctrl, this.gen, chunks)) >= 0; mine++) {
      runChunk(this.kernels, p, i, 0);
      chunkDone(ctrl, p, i);
    }
    let redone = 0;
    if (mine > 0 && p[F.K] <= p[F.Kc] && chunks <= FLAGGED_CHUNKS) {
      // give the workers about one chunk's time (as the main thread's took), then take over
      const chunkMs = (performance.now() - t0) / mine;
      waitUntil(ctrl, done, (v) => v >= chunks, MAIN_SPIN_MS, 1.5 * chunkMs);
      for (let i = 0; i < chunks && Atomics.load(ctrl, done) < chunks; i++) {
        if (Atomics.load(ctrl, Ctrl.ChunkDone + i) !== this.job) {
          runChunk(this.kernels, p, i, 0);
          redone++;
        }
      }
    } else {
      waitUntil(ctrl, done, (v) => v >= chunks, MAIN_SPIN_MS);
    }
    // (a worker still starting up is not a sign of busy cores)
    if (Atomics.load(ctrl, Ctrl.Ready) >= threads - 1) this.adapt((chunks - mine - redone) / chunks, threads);
    if (Atomics.load(ctrl, Ctrl.Error) !== 0) throw new Error('sgemm: a worker thread failed on its chunk (see its stderr)');
  }

  /**
   * When other processes keep the cores busy, workers get a fraction of a core and a second
   * thread only adds waiting (decode matvecs ran slower with 2 threads than with 1 under load).
   * If the workers' share of recent jobs falls far below their fair share, run the next SOLO_JOBS
   * jobs on the main thread alone, then try the workers again.
   */
  private adapt(share: number, threads: number): void {
    this.workerShare = 0.75 * this.workerShare + 0.25 * share;
    if (this.workerShare < (0.3 * (threads - 1)) / threads) {
      this.soloJobs = SOLO_JOBS;
      this.workerShare = 1;
    }
  }

  workerChunks(): number {
    return Atomics.load(this.ctrl, Ctrl.WorkerChunks);
  }

  private start(workers: number): void {
    while (this.workers.length < workers) {
      const init: PoolInit = {
        module: this.module, memory: this.memory, ctrl: this.ctrl, id: this.workers.length + 1,
      };
      // None of the parent's Node flags: the worker only loads our files, and some flags break
      // its entry point (`--input-type`); V8 flags are per process and apply anyway.
      const w = new Worker(new URL('./pool-worker.js', import.meta.url), { workerData: init, execArgv: [] });
      // A worker that cannot start never claims a chunk, so jobs still complete on the main
      // thread; stop waking workers and say so once.
      w.on('error', (e) => {
        if (this.broken) return;
        this.broken = true;
        process.emitWarning(`sgemm: a worker thread failed (${e.message}); matmuls continue on the main thread only`);
      });
      w.unref();
      this.workers.push(w);
    }
  }
}

/**
 * Waits until `done(ctrl[slot])` or `maxMs` passed: spins for `spinMs`, then sleeps on the slot
 * (whoever changes it calls Atomics.notify). Returns the last value read.
 */
export function waitUntil(ctrl: Int32Array, slot: number, done: (v: number) => boolean, spinMs: number, maxMs = Infinity): number {
  const t0 = performance.now();
  let v = Atomics.load(ctrl, slot);
  for (let n = 0; !done(v); n++) {
    if ((n & 63) === 63) {
      const waited = performance.now() - t0;
      if (waited > maxMs) break;
      if (waited > spinMs) Atomics.wait(ctrl, slot, v, Math.min(maxMs - waited, 50));
    }
    v = Atomics.load(ctrl, slot);
  }
  return v;
}
