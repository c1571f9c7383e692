/**
 * The prefix-state cache: the state of a sequence after its first n tokens, for any n (not
 * block-aligned), keyed by a hash of those tokens. A new prompt resumes from the longest cached
 * prefix of itself. Entries are checked token by token, so a hash collision never hands one
 * request another's state. Bounded in bytes with least-recently-used eviction; with a folder,
 * every entry is also a safetensors file there (atomic writes), loaded again on start, and an
 * evicted entry's file is removed, so the folder stays within the same bound.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensorsMetadata, readSafetensorsWithMetadata, writeSafetensors } from '../io/safetensors.js';
import { hostStateBytes, type HostState } from '../model/state-host.js';

const FORMAT = 'mamba-ts-prefix-state-1';

export interface CacheEntry {
  key: string;
  tokens: Int32Array;
  state: HostState;
  bytes: number;
}

/** keys[n] names tokens[0..n) (keys[0] is the empty prefix): two 32-bit multiplicative hashes and the length */
export function prefixKeys(tokens: readonly number[], upto = tokens.length): string[] {
  const keys = ['0'];
  let h1 = 0x811c9dc5, h2 = 0x9747b28c;
  for (let n = 0; n < upto; n++) {
    h1 = Math.imul(h1 ^ tokens[n], 0x01000193) >>> 0;
    h2 = Math.imul((h2 + tokens[n]) ^ (h2 >>> 15), 0x5bd1e995) >>> 0;
    keys.push(`${n + 1}-${h1.toString(16)}-${h2.toString(16)}`);
  }
  return keys;
}

export class PrefixCache {
  /** in least-recently-used order (Map keeps insertion order; a use re-inserts) */
  private readonly entries = new Map<string, CacheEntry>();
  private used = 0;

  /** `model`: a fingerprint of the model; files of other models in `dir` are left alone. */
  constructor(readonly budgetBytes: number, private readonly model: string, private readonly dir?: string) {
    if (dir) this.loadFolder(dir);
  }

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  get enabled(): boolean {
    return this.budgetBytes > 0;
  }

  /** The longest cached prefix of `tokens` of at most `maxLen` tokens (it becomes the most recent). */
  lookup(tokens: readonly number[], maxLen: number): CacheEntry | undefined {
    if (this.entries.size === 0) return undefined;
    const keys = prefixKeys(tokens, Math.min(maxLen, tokens.length));
    for (let n = keys.length - 1; n >= 1; n--) {
      const e = this.entries.get(keys[n]);
      if (e && e.tokens.every((id, i) => id === tokens[i])) {
        this.entries.delete(e.key);
        this.entries.set(e.key, e);
        return e;
      }
    }
    return undefined;
  }

  /**
   * The longest run of `tokens` (at most `maxLen`) that a cached entry's tokens also begin with.
   * A new prompt that shares more with an entry than any cached prefix state covers branches
   * from it there: a snapshot at that position serves the next prompt of the same family whole.
   */
  branchPoint(tokens: readonly number[], maxLen: number): number {
    let best = 0;
    for (const e of this.entries.values()) {
      const n = Math.min(e.tokens.length, maxLen, tokens.length);
      let i = 0;
      while (i < n && e.tokens[i] === tokens[i]) i++;
      if (i > best) best = i;
    }
    return best;
  }

  has(tokens: readonly number[]): boolean {
    const e = this.entries.get(prefixKeys(tokens).at(-1)!);
    return e !== undefined && e.tokens.every((id, i) => id === tokens[i]);
  }

  /** Keeps the state after `tokens` (taken over: the caller must not change it). */
  insert(tokens: readonly number[], state: HostState): void {
    if (tokens.length === 0 || this.has(tokens)) return;
    const key = prefixKeys(tokens).at(-1)!;
    const entry = { key, tokens: Int32Array.from(tokens), state, bytes: hostStateBytes(state) + 4 * tokens.length };
    if (entry.bytes > this.budgetBytes) return;
    this.evictTo(this.budgetBytes - entry.bytes);
    this.entries.set(key, entry);
    this.used += entry.bytes;
    if (this.dir) this.write(entry);
  }

  private evictTo(limit: number): void {
    for (const e of this.entries.values()) {
      if (this.used <= limit) break;
      this.entries.delete(e.key);
      this.used -= e.bytes;
      if (this.dir) fs.rmSync(this.file(e.key), { force: true });
    }
  }

  private file(key: string): string {
    return path.join(this.dir!, `${key}.safetensors`);
  }

  private write(e: CacheEntry): void {
    const tensors = new Map<string, HostTensor>([['tokens', { shape: [e.tokens.length], dtype: 'i32', data: e.tokens }], ...e.state]);
    writeSafetensors(this.file(e.key), tensors, { format: FORMAT, model: this.model });
  }

  /** Entries of this model, newest first, as many as the budget holds; the rest of its files go. */
  private loadFolder(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    const files = fs.readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .map((f) => ({ f: path.join(dir, f), mtime: fs.statSync(path.join(dir, f)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    const loaded: CacheEntry[] = [];
    let bytes = 0;
    for (const { f } of files) {
      let meta: Record<string, string>;
      try {
        meta = readSafetensorsMetadata(f);
      } catch {
        continue;   // not ours, or cut short by a crash before the rename (never: writes are atomic)
      }
      if (meta.format !== FORMAT || meta.model !== this.model) continue;
      const { tensors } = readSafetensorsWithMetadata(f);
      const tokens = tensors.get('tokens');
      tensors.delete('tokens');
      const key = path.basename(f, '.safetensors');
      if (!tokens || prefixKeys([...tokens.data]).at(-1) !== key) continue;
      const entry = { key, tokens: Int32Array.from(tokens.data), state: tensors, bytes: hostStateBytes(tensors) + tokens.data.byteLength };
      if (bytes + entry.bytes > this.budgetBytes) {
        fs.rmSync(f, { force: true });
        continue;
      }
      bytes += entry.bytes;
      loaded.push(entry);
    }
    for (const e of loaded.reverse()) this.entries.set(e.key, e);
    this.used = bytes;
  }
}
