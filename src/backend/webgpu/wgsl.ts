/**
 * Pieces of WGSL that many kernels share: the binding header, the flat invocation index of a
 * 2-D grid, and workgroup reductions (subgroup operations when the device has them, a shared
 * memory tree otherwise), and the cache of kernels by label.
 */
import type { Kernel } from './runtime.js';

const kernels = new Map<string, Kernel>();

/** The kernel labelled `label` (labels name one source each), its WGSL made on first use. */
export function cached(label: string, make: () => string): Kernel {
  let k = kernels.get(label);
  if (!k) kernels.set(label, (k = { label, source: make() }));
  return k;
}

export type Access = 'read' | 'read_write';
/** [name, access, element type] of a storage binding; bindings are numbered 1, 2, ... */
export type BufferDecl = readonly [string, Access, string];

/**
 * `struct Params { fields }` at binding 0 and one storage array per buffer. Every declared buffer
 * must be used by the kernel: pipelines use layout 'auto', which drops unused bindings.
 */
export function header(fields: string, buffers: readonly BufferDecl[], enables = ''): string {
  const decls = buffers.map(([name, access, type], i) =>
    `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: array<${type}>;`);
  return `${enables}
struct Params { ${fields} }
@group(0) @binding(0) var<uniform> p: Params;
${decls.join('\n')}
`;
}

/** Entry-point arguments for a 1-D workgroup on a 2-D grid (see runtime.grid). */
export const ENTRY_ARGS = `@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32`;

/** Linear id of this invocation for workgroups of `wg` on a 2-D grid. */
export function flatId(wg: number): string {
  return `((wid.y * nwg.x + wid.x) * ${wg}u + lid)`;
}

/** The entry point of a kernel of one invocation per element: `id` its index; those at p.n or past it return. */
export function flatMain(wg: number, id = 'i'): string {
  return `@compute @workgroup_size(${wg})
fn main(${ENTRY_ARGS}) {
  let ${id} = ${flatId(wg)};
  if (${id} >= p.n) { return; }`;
}

/** Linear id of this workgroup on a 2-D grid. */
export const GROUP_ID = `(wid.y * nwg.x + wid.x)`;

/**
 * `fn blockSum(v: f32) -> f32` and `fn blockMax(v: f32) -> f32` over a workgroup of `wg`
 * invocations. Every invocation must call them from uniform control flow. Entry points that use
 * them declare SUBGROUP_ARGS (after ENTRY_ARGS) and call `initReduce(...)` first.
 */
export function blockReduce(wg: number, subgroups: boolean, minSubgroupSize: number): { enables: string; args: string; init: string; fns: string } {
  if (!subgroups) {
    const body = (name: string, op: (a: string, b: string) => string) => `
fn ${name}(v: f32) -> f32 {
  red[rLid] = v;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (rLid < s) { red[rLid] = ${op('red[rLid]', 'red[rLid + s]')}; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;
    return {
      enables: '',
      args: '',
      init: 'rLid = lid;',
      fns: `var<workgroup> red: array<f32, ${wg}>;
var<private> rLid: u32;
${body('blockSum', (a, b) => `${a} + ${b}`)}
${body('blockMax', (a, b) => `max(${a}, ${b})`)}`,
    };
  }
  // Subgroups hold consecutive invocations (true of every driver we know); each writes one
  // partial, then every invocation folds the partials itself so no second broadcast is needed.
  // The fold's trip count is a constant so the barrier after it stays in uniform control flow.
  const parts = Math.max(1, wg / minSubgroupSize);
  const body = (name: string, sub: string, op: (a: string, b: string) => string, id: string) => `
fn ${name}(v: f32) -> f32 {
  let s = ${sub}(v);
  if (rSgLane == 0u) { red[rLid / rSgSize] = s; }
  workgroupBarrier();
  var r = ${id};
  for (var i = 0u; i < ${parts}u; i++) {
    if (i * rSgSize < ${wg}u) { r = ${op('r', 'red[i]')}; }
  }
  workgroupBarrier();
  return r;
}`;
  return {
    enables: 'enable subgroups;',
    args: ', @builtin(subgroup_invocation_id) sgLane: u32, @builtin(subgroup_size) sgSize: u32',
    init: 'rLid = lid; rSgLane = sgLane; rSgSize = sgSize;',
    fns: `var<workgroup> red: array<f32, ${parts}>;
var<private> rLid: u32;
var<private> rSgLane: u32;
var<private> rSgSize: u32;
${body('blockSum', 'subgroupAdd', (a, b) => `${a} + ${b}`, '0.0')}
${body('blockMax', 'subgroupMax', (a, b) => `max(${a}, ${b})`, '-3.402823e38')}`,
  };
}
