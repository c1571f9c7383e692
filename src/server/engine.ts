/**
 * Continuous batching over state slots. Every running sequence owns a slot; the batch is one
 * ModelState whose row r is the sequence `rows[r]`, and each decode step runs one batched `step`
 * over all of them. A new request is prefilled on a state of its own, in chunks between decode
 * steps (so running streams keep flowing), starting from the longest cached prefix state of its
 * prompt; then its n choices join the batch (the prefilled state forked n ways) and leave it when
 * done (their rows dropped with selectBatch), without stalling the others. Rows never mix: the
 * model's batched step keeps sequences independent, so a sequence decodes as it would alone.
 *
 * Prefill snapshots the state every `snapshotEvery` tokens, where the prompt branches off the
 * tokens of a cached entry (the next prompt of the same family resumes there whole), and before
 * the last prompt token, which runs on its own: a later request with the same prompt resumes
 * there and needs only that token to get its first logits. A finished sequence's state (prompt and output, less the last token, which was never
 * fed) stays with its slot and goes to the cache, so the next turn of a chat resumes after it.
 */
import { randomInt } from 'node:crypto';
import { disposeExcept, tidy } from '../backend/scope.js';
import { decodeStep, prefill, rebatch } from '../generate/steps.js';
import type { MambaLM } from '../model/lm.js';
import { stateFromHost, stateToHost, type HostState } from '../model/state-host.js';
import { ModelState } from '../model/state.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { ApiError } from './api-error.js';
import type { PrefixCache } from './prefix-cache.js';
import { Sequence, type Delta, type SequenceParams } from './sequence.js';

export interface EngineOptions {
  maxBatch: number;
  maxQueue: number;
  /** positions of an attention layer's KV cache; prompt + output must fit */
  maxModelLen: number;
  /** prompt tokens per forward of a prefill, between decode steps */
  prefillChunk: number;
  /** prompts longer than this are also snapshotted at every multiple of it */
  snapshotEvery: number;
}

/** What the metrics count; called as things happen. */
export interface EngineObserver {
  prefilled(tokens: number, seconds: number): void;
  decoded(tokens: number, seconds: number, batch: number): void;
  cacheLookup(cachedTokens: number): void;
}

export interface JobInput {
  prompt: number[];
  n: number;
  params: Omit<SequenceParams, 'seed'> & { seed?: number };
  onDelta(d: Delta): void;
}

/** One request: n choices of one prompt. */
export class Job {
  cachedTokens = 0;
  readonly seqs: Sequence[] = [];
  /** settles when every choice is done (or the request failed) */
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (e: Error) => void;
  cancelled = false;

  constructor(readonly input: JobInput) {
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => {});   // a caller that stops listening must not crash the process
  }

  get completionTokens(): number {
    return this.seqs.reduce((a, s) => a + s.generated.length, 0);
  }
}

export interface Slot {
  id: number;
  job?: Job;
  seq?: Sequence;
  phase: 'idle' | 'prefill' | 'decode';
  /** the state of the slot's last finished sequence: its tokens and where they led */
  kept?: { tokens: number[]; state: HostState };
}

interface Prefill {
  job: Job;
  slots: Slot[];
  state: ModelState;
  /** prompt tokens already in `state` */
  pos: number;
  /** where the prompt leaves the tokens of a cached entry: snapshotted on the way (0: none) */
  branch: number;
}

export class Engine {
  readonly slots: Slot[];
  private readonly waiting: Job[] = [];
  private readonly prefills: Prefill[] = [];
  private batch?: ModelState;
  private rows: { seq: Sequence; slot: Slot; job: Job }[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly model: MambaLM,
    private readonly tokenizer: Tokenizer,
    readonly opts: EngineOptions,
    readonly cache: PrefixCache,
    private readonly observer: EngineObserver,
    private readonly onFailure: (e: Error) => void = () => {},
  ) {
    this.slots = Array.from({ length: opts.maxBatch }, (_, id) => ({ id, phase: 'idle' as const }));
  }

  get queueDepth(): number {
    return this.waiting.length;
  }

  get busySlots(): number {
    return this.slots.filter((s) => s.phase !== 'idle').length;
  }

  /** Queues a request; a full queue is a 429. */
  submit(input: JobInput): Job {
    const unclaimed = this.freeSlots() - this.waiting.reduce((a, j) => a + j.input.n, 0);
    if (unclaimed < input.n && this.waiting.length >= this.opts.maxQueue) {
      throw new ApiError(429, `the server is busy: ${this.waiting.length} requests wait for a slot (--max-queue ${this.opts.maxQueue})`, null, 'queue_full');
    }
    const job = new Job(input);
    this.waiting.push(job);
    this.kick();
    return job;
  }

  /** The request went away: its slots are free at once, its rows leave the batch before the next step. */
  cancel(job: Job): void {
    if (job.cancelled) return;
    job.cancelled = true;
    const w = this.waiting.indexOf(job);
    if (w >= 0) this.waiting.splice(w, 1);
    for (const s of job.seqs) s.cancelled = true;
    for (const slot of this.slots) if (slot.job === job) this.release(slot);
    job.resolve();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((res) => this.idleWaiters.push(res));
  }

  /**
   * The state to resume `prompt` from: the longest of the cached prefixes and the idle slots'
   * kept states, leaving at least the last prompt token to run.
   */
  private resumePoint(prompt: readonly number[]): { tokens: number; state?: HostState } {
    const limit = prompt.length - 1;
    const hit = this.cache.lookup(prompt, limit);
    let best = hit ? { tokens: hit.tokens.length, state: hit.state } : { tokens: 0 };
    for (const slot of this.slots) {
      const k = slot.kept;
      if (slot.phase === 'idle' && k && k.tokens.length > best.tokens && k.tokens.length <= limit && k.tokens.every((id, i) => id === prompt[i])) {
        best = { tokens: k.tokens.length, state: k.state };
      }
    }
    return best;
  }

  private freeSlots(): number {
    return this.slots.filter((s) => s.phase === 'idle').length;
  }

  private release(slot: Slot): void {
    slot.job = undefined;
    slot.seq = undefined;
    slot.phase = 'idle';
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (this.waiting.length > 0 || this.prefills.length > 0 || this.rows.length > 0) {
      try {
        await this.leave();
        this.admit();
        if (this.prefills.length > 0) await this.prefillChunk(this.prefills[0]);
        // a choice may end with its first token: it must leave before a step feeds that token
        await this.leave();
        if (this.rows.length > 0) await this.decode();
      } catch (e) {
        this.failAll(e as Error);
      }
      // sends, new requests and disconnects are handled between steps
      await new Promise((res) => setImmediate(res));
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Jobs from the queue, in order, while their choices find free slots. */
  private admit(): void {
    while (this.waiting.length > 0 && this.freeSlots() >= this.waiting[0].input.n) {
      const job = this.waiting.shift()!;
      const resume = this.resumePoint(job.input.prompt);
      const slots = this.slots.filter((s) => s.phase === 'idle').slice(0, job.input.n);
      for (const s of slots) {
        s.job = job;
        s.phase = 'prefill';
        s.kept = undefined;
      }
      job.cachedTokens = resume.tokens;
      this.observer.cacheLookup(resume.tokens);
      const state = resume.state
        ? stateFromHost(this.model, resume.state, this.opts.maxModelLen, 'the prefix cache')
        : this.model.initState(1, this.opts.maxModelLen);
      const branch = this.cache.enabled ? this.cache.branchPoint(job.input.prompt, job.input.prompt.length - 1) : 0;
      this.prefills.push({ job, slots, state, pos: resume.tokens, branch: branch > resume.tokens ? branch : 0 });
    }
  }

  /** Runs the next chunk of a prefill; at the end, its choices join the batch. */
  private async prefillChunk(p: Prefill): Promise<void> {
    const { job } = p;
    const prompt = job.input.prompt;
    if (job.cancelled) {
      this.prefills.shift();
      disposeExcept(p.state, undefined);
      return;
    }
    const t0 = performance.now();
    const L = prompt.length;
    if (p.pos < L - 1) {
      const every = this.opts.snapshotEvery;
      const end = Math.min(p.pos + this.opts.prefillChunk, L - 1, (Math.floor(p.pos / every) + 1) * every, p.branch > p.pos ? p.branch : Infinity);
      const out = prefill(this.model, this.ids(prompt.slice(p.pos, end)), p.state);
      out.logits.dispose();
      p.state = out.state;
      this.observer.prefilled(end - p.pos, (performance.now() - t0) / 1000);
      p.pos = end;
      if ((end % every === 0 || end === L - 1 || end === p.branch) && this.cache.enabled && !this.cache.has(prompt.slice(0, end))) {
        this.cache.insert(prompt.slice(0, end), await stateToHost(p.state));
      }
      return;
    }
    // the last prompt token: its logits give every choice its first token
    this.prefills.shift();
    const out = prefill(this.model, this.ids(prompt.slice(L - 1)), p.state);
    const row = (await out.logits.read()) as Float32Array;
    out.logits.dispose();
    this.observer.prefilled(1, (performance.now() - t0) / 1000);
    const { n, params } = job.input;
    const seed = params.seed ?? randomInt(2 ** 31);
    const forked = n === 1 ? out.state : rebatch(out.state, () => out.state.selectBatch(new Array<number>(n).fill(0)));
    const vocab = this.model.config.vocabSize;
    const joined: typeof this.rows = [];
    p.slots.forEach((slot, i) => {
      const seq = new Sequence(i, prompt, { ...params, seed }, this.tokenizer, vocab);
      job.seqs.push(seq);
      slot.seq = seq;
      slot.phase = 'decode';
      job.input.onDelta(seq.accept(row.subarray(0, this.model.vocabPadded)));
      joined.push({ seq, slot, job });
    });
    const old = this.batch;
    this.batch = old ? rebatch([old, forked], () => ModelState.concatBatch([old, forked])) : forked;
    this.rows.push(...joined);
    this.settle(job);
  }

  /** One batched step over every running sequence. */
  private async decode(): Promise<void> {
    const t0 = performance.now();
    const B = this.rows.length;
    const ids = this.model.backend.upload(Int32Array.from(this.rows, (r) => r.seq.last), [B]);
    const out = decodeStep(this.model, ids, this.batch!);
    this.batch = out.state;
    const z = (await out.logits.read()) as Float32Array;
    out.logits.dispose();
    const V = this.model.vocabPadded;
    const touched = new Set<Job>();
    this.rows.forEach((r, i) => {
      if (r.seq.done) return;   // cancelled while the step ran
      r.job.input.onDelta(r.seq.accept(z.subarray(i * V, (i + 1) * V)));
      touched.add(r.job);
    });
    this.observer.decoded(B, (performance.now() - t0) / 1000, B);
    for (const job of touched) this.settle(job);
  }

  /** Drops the rows of finished and cancelled sequences; a finished one's state is kept first. */
  private async leave(): Promise<void> {
    if (!this.rows.some((r) => r.seq.done)) return;
    const batch = this.batch!;
    for (const [i, r] of this.rows.entries()) {
      if (!r.seq.done || r.seq.cancelled) continue;
      const one = tidy(() => batch.selectBatch([i]));
      const tokens = [...r.seq.prompt, ...r.seq.generated.slice(0, -1)];
      const state = await stateToHost(one);
      disposeExcept(one, undefined);
      r.slot.kept = { tokens, state };
      if (this.cache.enabled) this.cache.insert(tokens, state);
      if (r.slot.seq === r.seq) this.release(r.slot);
    }
    const keep = [...this.rows.keys()].filter((i) => !this.rows[i].seq.done);
    if (keep.length === 0) disposeExcept(batch, undefined);
    this.batch = keep.length === 0 ? undefined : rebatch(batch, () => batch.selectBatch(keep));
    this.rows = keep.map((i) => this.rows[i]);
  }

  /** Resolves a job whose choices are all done (their slots are released as their rows leave). */
  private settle(job: Job): void {
    if (job.seqs.length === job.input.n && job.seqs.every((s) => s.done)) job.resolve();
  }

  private failAll(e: Error): void {
    this.onFailure(e);
    const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${e.message}`);
    const jobs = new Set([...this.waiting, ...this.prefills.map((p) => p.job), ...this.rows.map((r) => r.job)]);
    disposeExcept([this.batch, this.prefills.map((p) => p.state)], undefined);
    this.waiting.length = 0;
    this.prefills.length = 0;
    this.rows = [];
    this.batch = undefined;
    for (const slot of this.slots) this.release(slot);
    for (const job of jobs) job.reject(err);
  }

  /** a run of prompt tokens as forward's [1, L] */
  private ids(ids: readonly number[]) {
    return this.model.backend.upload(Int32Array.from(ids), [1, ids.length]);
  }
}
