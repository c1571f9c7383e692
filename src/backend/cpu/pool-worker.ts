/**
 * A GEMM pool worker (see pool.ts for the protocol): instantiates the kernels on the shared heap
 * it was sent, then forever waits for a job, takes chunks until none is left, and counts them done.
 */
import { workerData } from 'node:worker_threads';
import { instantiateKernels } from './wasm/api.js';
import { claim, Ctrl, type PoolInit, waitUntil } from './pool.js';
import { F, runChunk } from './pool-job.js';

const { module, memory, ctrl, id } = workerData as PoolInit;
const { kernels } = instantiateKernels(module, memory);
const plan = new Int32Array(F.Size);

for (let seen = Atomics.load(ctrl, Ctrl.Seq); ;) {
  seen = waitUntil(ctrl, Ctrl.Seq, (v) => v !== seen);
  // A copy: the main thread may write the next plan while this one is being read; then every
  // claim below fails, because claims check the job number.
  plan.set(ctrl.subarray(Ctrl.PlanAt, Ctrl.PlanAt + F.Size));
  if (id >= plan[F.Threads]) continue;
  const chunks = plan[F.Chunks];
  for (let i; (i = claim(ctrl, seen, chunks)) >= 0;) {
    try {
      runChunk(kernels, plan, i);
    } catch (e) {
      console.error(e);
      Atomics.store(ctrl, Ctrl.Error, 1);
    }
    Atomics.add(ctrl, Ctrl.WorkerChunks, 1);
    if (Atomics.add(ctrl, Ctrl.Done, 1) + 1 === chunks) Atomics.notify(ctrl, Ctrl.Done);
  }
}
