/**
 * The GEMM thread pool: the main thread plus lazily started workers share the chunks of one plan.
 *
 * Protocol (all in one small SharedArrayBuffer, `ctrl`):
 * - the main thread writes the plan, sets NEXT = gen << 16 (gen: 16-bit job number, index 0),
 *   DONE = 0, then SEQ = gen and wakes the workers;
 * - every participant claims chunk indices by compare-and-swap on NEXT; a claim whose gen is not
 *   the current one fails, so a worker that read a stale plan never runs it;
 * - each finished chunk increments DONE; the main thread (which claims chunks too, so a job never
 *   waits for a worker that is still starting) returns when DONE reaches the chunk count.
 * Workers spin briefly before sleeping in Atomics.wait, because decoding issues a burst of small
 * matmuls whose wake-up latency would otherwise dominate. They are unref()'d: an idle pool never
 * keeps the process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Kernel, WasmMemory, WasmModule } from './wasm/api.js';
import { F, type Plan, runChunk } from './pool-job.js';

export const enum Ctrl {
  Seq, Next, Done, Error,
  /** chunks run by workers since the start (a diagnostic for tests and benchmarks) */
  WorkerChunks,
  PlanAt = 8,
}

/** spin this long (ms) for the next job or the last chunk before blocking */
export const SPIN_MS = 1;

export interface PoolInit {
  module: WasmModule;
  memory: WasmMemory;
  names: readonly string[];
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

export class Pool {
  readonly ctrl = new Int32Array(new SharedArrayBuffer(4 * (Ctrl.PlanAt + F.Size)));
  /** the plan fields; fill before `run` */
  readonly plan: Plan = this.ctrl.subarray(Ctrl.PlanAt);
  private readonly workers: Worker[] = [];
  private gen = 0;
  private broken = false;

  constructor(
    private readonly module: WasmModule,
    private readonly memory: WasmMemory,
    private readonly names: readonly string[],
    private readonly kernels: readonly Kernel[],
    /** threads in all, the main thread included */
    public threads = Math.max(1, availableParallelism()),
  ) {}

  /** Runs every chunk of `plan` on up to `threads` threads (1: inline, no workers). */
  run(threads: number): void {
    const chunks = this.plan[F.Chunks];
    if (threads <= 1 || chunks < 2 || this.broken) {
      for (let i = 0; i < chunks; i++) runChunk(this.kernels, this.plan, i);
      return;
    }
    this.start(threads - 1);
    const ctrl = this.ctrl;
    this.plan[F.Threads] = threads;
    this.gen = (this.gen + 1) & 0xffff;
    Atomics.store(ctrl, Ctrl.Done, 0);
    Atomics.store(ctrl, Ctrl.Error, 0);
    Atomics.store(ctrl, Ctrl.Next, this.gen << 16);
    Atomics.store(ctrl, Ctrl.Seq, this.gen);
    Atomics.notify(ctrl, Ctrl.Seq);
    for (let i; (i = claim(ctrl, this.gen, chunks)) >= 0;) {
      runChunk(this.kernels, this.plan, i);
      Atomics.add(ctrl, Ctrl.Done, 1);
    }
    waitUntil(ctrl, Ctrl.Done, (v) => v >= chunks, 50);
    if (Atomics.load(ctrl, Ctrl.Error) !== 0) throw new Error('sgemm: a worker thread failed on its chunk (see its stderr)');
  }

  workerChunks(): number {
    return Atomics.load(this.ctrl, Ctrl.WorkerChunks);
  }

  private start(workers: number): void {
    while (this.workers.length < workers) {
      const init: PoolInit = {
        module: this.module, memory: this.memory, names: this.names, ctrl: this.ctrl, id: this.workers.length + 1,
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
 * Waits until `done(ctrl[slot])`: spins for SPIN_MS, then sleeps on the slot (whoever changes it
 * calls Atomics.notify) for at most `sleepMs` at a time.
 */
export function waitUntil(ctrl: Int32Array, slot: number, done: (v: number) => boolean, sleepMs = Infinity): number {
  const t0 = performance.now();
  let v = Atomics.load(ctrl, slot);
  for (let n = 0; !done(v); n++) {
    if ((n & 63) === 63 && performance.now() - t0 > SPIN_MS) Atomics.wait(ctrl, slot, v, sleepMs);
    v = Atomics.load(ctrl, slot);
  }
  return v;
}
