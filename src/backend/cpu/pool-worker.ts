/**
 * A GEMM pool worker (see pool.ts for the protocol): instantiates the kernels on the shared heap
 * it was sent, then forever waits for a job and takes its chunks until none is left.
 */
import { workerData } from 'node:worker_threads';
import { instantiateKernels } from './wasm/api.js';
import { chunkDone, claim, Ctrl, type PoolInit, waitUntil, WORKER_SPIN_MS } from './pool.js';
import { F, runChunk } from './pool-job.js';

const { module, memory, ctrl, id } = workerData as PoolInit;
const { kernels } = instantiateKernels(module, memory);
const plan = new Int32Array(F.Size);
Atomics.add(ctrl, Ctrl.Ready, 1);

for (let seen = Atomics.load(ctrl, Ctrl.Seq); ;) {
  seen = waitUntil(ctrl, Ctrl.Seq, (v) => v !== seen, WORKER_SPIN_MS);
  // A copy, kept only when whole and of the job woken for: the main thread may already be
  // writing a newer plan (then its own SEQ change wakes us again)
  const before = Atomics.load(ctrl, Ctrl.PlanSeq);
  plan.set(ctrl.subarray(Ctrl.PlanAt, Ctrl.PlanAt + F.Size));
  if ((before & 1) !== 0 || Atomics.load(ctrl, Ctrl.PlanSeq) !== before || plan[F.Gen] !== seen) continue;
  if (id >= plan[F.Threads]) continue;
  const busy = Ctrl.Busy0 + (plan[F.Region] & 1);
  for (;;) {
    // BUSY goes up before the claim, so that the main thread never reuses this region's scratch
    // while a chunk of it may still be running here.
    Atomics.add(ctrl, busy, 1);
    const i = claim(ctrl, seen, plan[F.Chunks]);
    if (i >= 0) {
      try {
        runChunk(kernels, plan, i, id);
      } catch (e) {
        console.error(e);
        Atomics.store(ctrl, Ctrl.Error, 1);
      }
      Atomics.add(ctrl, Ctrl.WorkerChunks, 1);
      chunkDone(ctrl, plan, i);
    }
    if (Atomics.sub(ctrl, busy, 1) === 1) Atomics.notify(ctrl, busy);
    if (i < 0) break;
  }
}
