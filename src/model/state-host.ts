/**
 * One sequence's state in host memory, as named tensors (safetensors-ready): what a server keeps
 * to resume a sequence later, on any backend. Names per layer i:
 *   layers.i.conv, layers.i.ssm            Mamba-1/2 ([1, ...] as in the state)
 *   layers.i.k, layers.i.v                 attention: only the `length` cached positions [1, length, Hkv, E]
 *   layers.i.length                        attention: i32 [1]
 *   layers.i.conv                          attention with a conv, when present
 * KV caches are cut to the positions in use, so a snapshot of a short prefix stays small.
 */
import { UserError } from '../errors.js';
import type { HostTensor } from '../io/host-tensor.js';
import type { MixerState } from '../layers/mixer.js';
import type { Tensor } from '../tensor.js';
import { stateTensors, type MambaLM } from './lm.js';
import { checkNotConsumed, ModelState } from './state.js';

export type HostState = Map<string, HostTensor>;

/** A state of one sequence (batch 1) -> host tensors. The state stays usable. */
export async function stateToHost(state: ModelState): Promise<HostState> {
  checkNotConsumed(state, 'stateToHost(state)');
  if (state.batch !== 1) throw new Error(`stateToHost: the state holds ${state.batch} sequences, expected 1`);
  const out: HostState = new Map();
  const put = async (name: string, t: Tensor, rows?: number) => {
    const data = await t.read();
    const shape = [...t.shape];
    if (rows === undefined) {
      out.set(name, { shape, dtype: t.dtype, data });
      return;
    }
    const per = t.size / shape[1];                     // one cache position: Hkv * E values
    out.set(name, { shape: [1, rows, ...shape.slice(2)], dtype: t.dtype, data: data.slice(0, rows * per) });
  };
  for (const [i, s] of state.layers.entries()) {
    if (s.kind === 'attention') {
      const len = s.lengths[0];
      await put(`layers.${i}.k`, s.k, len);
      await put(`layers.${i}.v`, s.v, len);
      out.set(`layers.${i}.length`, { shape: [1], dtype: 'i32', data: Int32Array.of(len) });
      if (s.conv) await put(`layers.${i}.conv`, s.conv);
    } else if (s.kind !== 'mlp') {
      await put(`layers.${i}.conv`, s.conv);
      await put(`layers.${i}.ssm`, s.ssm);
    }
  }
  return out;
}

/** f32 bytes a host state holds. */
export function hostStateBytes(h: HostState): number {
  let n = 0;
  for (const t of h.values()) n += t.data.byteLength;
  return n;
}

/**
 * Host tensors -> a state of one sequence of `model` on its backend, KV caches of `maxLen`
 * positions. Tensors of another architecture fail with a UserError naming `where` and the tensor.
 */
export function stateFromHost(model: MambaLM, h: HostState, maxLen: number, where: string): ModelState {
  const be = model.backend;
  const zero = model.initState(1, 1);
  const want = (name: string, dtype: HostTensor['dtype'], dims: readonly number[]): HostTensor => {
    const got = h.get(name);
    if (!got) throw new UserError(`${where}: no tensor ${name}; the state is not one of this model`);
    if (got.dtype !== dtype || got.shape.length !== dims.length || got.shape.some((d, k) => d !== dims[k])) {
      throw new UserError(`${where}: ${name} is ${got.dtype} [${got.shape}], this model's is ${dtype} [${dims}]`);
    }
    return got;
  };
  const like = (name: string, t: Tensor) => up(want(name, t.dtype, t.shape));
  const up = (t: HostTensor) => be.upload(t.data, t.shape);
  const layers = zero.layers.map((s, i): MixerState => {
    if (s.kind === 'mlp') return s;
    if (s.kind !== 'attention') {
      return { kind: s.kind, conv: like(`layers.${i}.conv`, s.conv), ssm: like(`layers.${i}.ssm`, s.ssm) } as MixerState;
    }
    const len = want(`layers.${i}.length`, 'i32', [1]).data[0];
    if (!(len >= 0 && len <= maxLen)) throw new UserError(`${where}: layers.${i}.length ${len} does not fit a cache of ${maxLen} positions`);
    const cache = (name: string, t: Tensor) => {
      const rows = want(`layers.${i}.${name}`, t.dtype, [1, len, ...t.shape.slice(2)]);
      const full = new Float32Array(maxLen * (t.size / t.shape[1]));   // [1, maxLen, Hkv, E], zeros past len
      full.set(rows.data);
      return be.upload(full, [1, maxLen, ...t.shape.slice(2)]);
    };
    return {
      kind: 'attention', k: cache('k', s.k), v: cache('v', s.v), lengths: Int32Array.of(len),
      conv: s.conv ? like(`layers.${i}.conv`, s.conv) : undefined,
    };
  });
  for (const s of zero.layers) for (const t of stateTensors(s)) t.dispose();
  return new ModelState(1, layers);
}
