/**
 * /metrics in Prometheus' text format (prom-client), one registry per server: requests by route
 * and status, prompt and generated tokens, queue depth, batch occupancy, prefix-cache hits and
 * bytes, prefill and decode tokens/s (over the last 10 s of work; the *_seconds_total counters
 * give rates over any window).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, EngineObserver } from './engine.js';

const WINDOW_MS = 10_000;

/** tokens per second of work over the last WINDOW_MS of wall time */
class Rate {
  private readonly samples: { at: number; tokens: number; seconds: number }[] = [];

  add(tokens: number, seconds: number): void {
    this.samples.push({ at: Date.now(), tokens, seconds });
  }

  value(): number {
    const since = Date.now() - WINDOW_MS;
    while (this.samples.length > 0 && this.samples[0].at < since) this.samples.shift();
    const t = this.samples.reduce((a, s) => a + s.tokens, 0);
    const s = this.samples.reduce((a, x) => a + x.seconds, 0);
    return s > 0 ? t / s : 0;
  }
}

export class Metrics implements EngineObserver {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'mamba_ts_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'status'], registers: [this.registry] });
  readonly promptTokens = new Counter({ name: 'mamba_ts_prompt_tokens_total', help: 'prompt tokens of completion requests', registers: [this.registry] });
  readonly generatedTokens = new Counter({ name: 'mamba_ts_generation_tokens_total', help: 'tokens generated', registers: [this.registry] });
  private readonly prefillTokens = new Counter({ name: 'mamba_ts_prefill_tokens_total', help: 'prompt tokens run through the model (cache hits excluded)', registers: [this.registry] });
  private readonly prefillSeconds = new Counter({ name: 'mamba_ts_prefill_seconds_total', help: 'time spent in prefill', registers: [this.registry] });
  private readonly decodeTokens = new Counter({ name: 'mamba_ts_decode_tokens_total', help: 'tokens made by batched decode steps', registers: [this.registry] });
  private readonly decodeSeconds = new Counter({ name: 'mamba_ts_decode_seconds_total', help: 'time spent in decode steps', registers: [this.registry] });
  private readonly batchSize = new Histogram({ name: 'mamba_ts_decode_batch_size', help: 'sequences per decode step', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [this.registry] });
  private readonly cacheHits = new Counter({ name: 'mamba_ts_state_cache_hits_total', help: 'requests that resumed from a cached prefix state', registers: [this.registry] });
  private readonly cacheMisses = new Counter({ name: 'mamba_ts_state_cache_misses_total', help: 'requests prefilled from the start', registers: [this.registry] });
  private readonly cachedTokens = new Counter({ name: 'mamba_ts_state_cache_hit_tokens_total', help: 'prompt tokens skipped thanks to cached states', registers: [this.registry] });
  private readonly prefillRate = new Rate();
  private readonly decodeRate = new Rate();

  /** Gauges read the engine when scraped. */
  watch(engine: Engine): void {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    gauge('mamba_ts_queue_depth', 'requests waiting for a slot', () => engine.queueDepth);
    gauge('mamba_ts_slots_busy', 'slots in use (prefill or decode): the batch occupancy', () => engine.busySlots);
    gauge('mamba_ts_slots_total', 'slots (--max-batch)', () => engine.slots.length);
    gauge('mamba_ts_state_cache_bytes', 'bytes of cached prefix states', () => engine.cache.bytes);
    gauge('mamba_ts_state_cache_entries', 'cached prefix states', () => engine.cache.size);
    gauge('mamba_ts_prefill_tokens_per_second', 'prefill speed over the last 10 s of prefill work', () => this.prefillRate.value());
    gauge('mamba_ts_decode_tokens_per_second', 'aggregate decode speed (all sequences) over the last 10 s of decode work', () => this.decodeRate.value());
  }

  prefilled(tokens: number, seconds: number): void {
    this.prefillTokens.inc(tokens);
    this.prefillSeconds.inc(seconds);
    this.prefillRate.add(tokens, seconds);
  }

  decoded(tokens: number, seconds: number, batch: number): void {
    this.decodeTokens.inc(tokens);
    this.decodeSeconds.inc(seconds);
    this.decodeRate.add(tokens, seconds);
    this.batchSize.observe(batch);
  }

  cacheLookup(cachedTokens: number): void {
    if (cachedTokens > 0) {
      this.cacheHits.inc();
      this.cachedTokens.inc(cachedTokens);
    } else {
      this.cacheMisses.inc();
    }
  }
}
