/**
 * GPU time per kernel, from timestamp queries written at the start and end of a compute pass
 * that holds one dispatch. Profiling therefore changes what it measures a little (a pass per
 * dispatch instead of one for many); use it to see where time goes, and time whole runs without it.
 */
import { MapModeRead, Usage } from './device.js';

/** queries per query set: begin and end of this many dispatches */
const DISPATCHES_PER_SET = 2048;
const QUERY_RESOLVE = 0x0200; // GPUBufferUsage.QUERY_RESOLVE

export interface KernelTime {
  label: string;
  count: number;
  /** summed GPU milliseconds */
  ms: number;
}

export class Profiler {
  private set: GPUQuerySet | undefined;
  private used = 0;
  private labels: string[] = [];
  private readonly resolved: { buffer: GPUBuffer; labels: string[]; set: GPUQuerySet }[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** The timestamp writes for the pass of the next dispatch, labelled `label`. */
  writes(encoder: GPUCommandEncoder, label: string): GPUComputePassTimestampWrites {
    if (this.set && this.used === DISPATCHES_PER_SET) this.resolve(encoder);
    this.set ??= this.device.createQuerySet({ type: 'timestamp', count: 2 * DISPATCHES_PER_SET });
    this.labels.push(label);
    const i = this.used++;
    return { querySet: this.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Copies the filled queries of the current set into a buffer (in order with `encoder`). */
  resolve(encoder: GPUCommandEncoder): void {
    if (!this.set || this.used === 0) return;
    const buffer = this.device.createBuffer({ size: 16 * this.used, usage: QUERY_RESOLVE | Usage.COPY_SRC });
    encoder.resolveQuerySet(this.set, 0, 2 * this.used, buffer, 0);
    // the set lives until the resolve has run (results() destroys it)
    this.resolved.push({ buffer, labels: this.labels, set: this.set });
    this.set = undefined;
    this.used = 0;
    this.labels = [];
  }

  /** Reads every resolved time back (after the work was submitted), slowest label first. */
  async results(): Promise<KernelTime[]> {
    const byLabel = new Map<string, KernelTime>();
    for (const { buffer, labels, set } of this.resolved) {
      const staging = this.device.createBuffer({ size: buffer.size, usage: Usage.MAP_READ | Usage.COPY_DST });
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(MapModeRead);
      const ns = new BigInt64Array(staging.getMappedRange().slice(0));
      staging.destroy();
      buffer.destroy();
      set.destroy();
      labels.forEach((label, i) => {
        const t = byLabel.get(label) ?? { label, count: 0, ms: 0 };
        t.count++;
        t.ms += Number(ns[2 * i + 1] - ns[2 * i]) / 1e6;
        byLabel.set(label, t);
      });
    }
    this.resolved.length = 0;
    return [...byLabel.values()].sort((a, b) => b.ms - a.ms);
  }
}
