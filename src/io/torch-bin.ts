/**
 * PyTorch checkpoints (`pytorch_model.bin`) in the zip format of torch.save (PyTorch >= 1.6):
 * `<archive>/data.pkl` pickles the state dict; each tensor is
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` whose storage is a
 * persistent id `('storage', torch.<Type>Storage, key, location, numel)` naming the raw
 * little-endian bytes in `<archive>/data/<key>`. Tensors come back contiguous; tensors sharing a
 * storage (a tied lm_head) each get their own copy.
 */
import { UserError } from '../errors.js';
import type { HostArray } from '../tensor.js';
import { decodeElements, isFloatSource, SOURCE_BYTES, type SourceDType } from './dtypes.js';
import { numel, type CheckEntry, type HostTensor } from './host-tensor.js';
import { describe } from './json.js';
import { unpickle, PyGlobal } from './pickle.js';
import { openZip, closeZip, readZipEntry, type Zip } from './zip.js';
import { openRead, closeRead, readBytes } from './files.js';

/** data.pkl of a state dict is kilobytes; its size limits what the pickle machine allocates. */
const MAX_PICKLE = 256 * 1024 * 1024;
const MAX_RANK = 16;

const STORAGE_TYPES: Record<string, SourceDType> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8',
  ByteStorage: 'U8', BoolStorage: 'BOOL',
};

class StorageRef {
  constructor(readonly key: string, readonly type: SourceDType, readonly numel: number) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** `check` sees every tensor's name and shape before any storage is read. */
export function readTorchBin(path: string, check?: CheckEntry): Map<string, HostTensor> {
  checkMagic(path);
  const zip = openZip(path);
  try {
    return readArchive(zip, path, check);
  } finally {
    closeZip(zip);
  }
}

function checkMagic(path: string): void {
  const f = openRead(path);
  try {
    const head = readBytes(f, 0, Math.min(4, f.size));
    if (head.length === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) return;
    if (head[0] === 0x80) {
      throw new UserError(`${path}: legacy (pre-1.6, non-zip) PyTorch format is not supported; re-save it with a newer torch.save`);
    }
    throw new UserError(`${path}: not a PyTorch zip checkpoint`);
  } finally {
    closeRead(f);
  }
}

function readArchive(zip: Zip, path: string, check: CheckEntry | undefined): Map<string, HostTensor> {
  const pkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new UserError(`${path}: no <archive>/data.pkl in the zip: not a torch.save checkpoint`);
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const byteorder = zip.entries.get(`${prefix}byteorder`);
  if (byteorder && Buffer.from(readZipEntry(zip, byteorder)).toString() !== 'little') {
    throw new UserError(`${path}: big-endian checkpoints are not supported`);
  }

  const pklEntry = zip.entries.get(pkl)!;
  if (pklEntry.size > MAX_PICKLE) throw new UserError(`${path}: ${pkl} claims ${pklEntry.size} bytes; a state dict's pickle is far smaller`);
  const root = unpickle(readZipEntry(zip, pklEntry), {
    source: `${path}: ${pkl}`,
    findGlobal: (module, name) => findGlobal(module, name, path),
    persistentLoad: (pid) => storageRef(pid, path),
  });
  if (!(root instanceof Map)) throw new UserError(`${path}: the checkpoint is not a dict of tensors`);
  const refs = new Map<string, TensorRef>();
  const uses = new Map<string, number>();
  const storageOf = new Map<string, StorageRef>();
  for (const [name, value] of root) {
    if (typeof name !== 'string' || !(value instanceof TensorRef)) {
      throw new UserError(`${path}: entry ${describe(name)} is not a tensor`);
    }
    check?.(name, value.shape, isFloatSource(value.storage.type) ? 'f32' : 'i32');
    const seen = storageOf.get(value.storage.key);
    if (seen && (seen.type !== value.storage.type || seen.numel !== value.storage.numel)) {
      throw new UserError(`${path}: storage "${seen.key}" is declared as ${seen.numel} × ${seen.type} and as ${value.storage.numel} × ${value.storage.type}`);
    }
    storageOf.set(value.storage.key, value.storage);
    refs.set(name, value);
    uses.set(value.storage.key, (uses.get(value.storage.key) ?? 0) + 1);
  }

  const storages = new Map<string, HostArray>();
  const tensors = new Map<string, HostTensor>();
  for (const [name, ref] of refs) {
    const where = `${path}: tensor "${name}"`;
    let data = storages.get(ref.storage.key);
    if (!data) {
      data = loadStorage(zip, prefix, ref.storage, where);
      storages.set(ref.storage.key, data);
    }
    tensors.set(name, {
      shape: ref.shape,
      dtype: isFloatSource(ref.storage.type) ? 'f32' : 'i32',
      data: materialize(data, ref, uses.get(ref.storage.key)! > 1, where),
    });
  }
  return tensors;
}

function findGlobal(module: string, name: string, path: string): PyGlobal | undefined {
  const qualified = `${module}.${name}`;
  switch (qualified) {
    case 'collections.OrderedDict':
      return new PyGlobal(module, name, (args) => orderedDict(args, path));
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2':
      return new PyGlobal(module, name, (args) => rebuildTensor(args, path));
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return new PyGlobal(module, name, (args) => args[0]);
  }
  if (module === 'torch' && Object.hasOwn(STORAGE_TYPES, name)) return new PyGlobal(module, name);
  return undefined;
}

function orderedDict(args: unknown[], path: string): Map<unknown, unknown> {
  if (args.length === 0 || (Array.isArray(args[0]) && args[0].length === 0)) return new Map();
  const items = args[0];
  if (!Array.isArray(items) || !items.every((kv) => Array.isArray(kv) && kv.length === 2)) {
    throw new UserError(`${path}: bad arguments to collections.OrderedDict: ${describe(args)}`);
  }
  return new Map(items as [unknown, unknown][]);
}

function storageRef(pid: unknown, path: string): StorageRef {
  const bad = (): never => {
    throw new UserError(`${path}: bad storage reference ${describe(pid instanceof PyGlobal ? `${pid.module}.${pid.name}` : pid)}`);
  };
  if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') return bad();
  const [, type, key, , count] = pid;
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !Object.hasOwn(STORAGE_TYPES, type.name) || typeof key !== 'string' || !Number.isSafeInteger(count) || count < 0) return bad();
  return new StorageRef(key, STORAGE_TYPES[type.name], count as number);
}

const isSizeList = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);

function rebuildTensor(args: unknown[], path: string): TensorRef {
  const [storage, offset, shape, stride] = args;
  if (!(storage instanceof StorageRef) || !Number.isSafeInteger(offset) || (offset as number) < 0 || !isSizeList(shape) ||
      !isSizeList(stride) || shape.length !== stride.length || shape.length > MAX_RANK) {
    throw new UserError(`${path}: bad arguments to torch._utils._rebuild_tensor_v2: ${describe(args.slice(1, 4))}`);
  }
  return new TensorRef(storage, offset as number, shape, stride);
}

function loadStorage(zip: Zip, prefix: string, s: StorageRef, where: string): HostArray {
  const name = `${prefix}data/${s.key}`;
  const entry = zip.entries.get(name);
  if (!entry) throw new UserError(`${where}: storage "${name}" is missing from the archive`);
  // torch.save writes a storage's bytes and nothing else; checked before anything is read
  const want = s.numel * SOURCE_BYTES[s.type];
  if (entry.size !== want) throw new UserError(`${where}: storage "${name}" has ${entry.size} bytes, but ${s.numel} elements of ${s.type} are ${want}`);
  return decodeElements(readZipEntry(zip, entry), s.type, s.numel, where);
}

/** The tensor's elements in row-major order, honoring its storage offset and strides. */
function materialize(src: HostArray, t: TensorRef, shared: boolean, where: string): HostArray {
  const n = numel(t.shape);
  if (n === 0) return src instanceof Float32Array ? new Float32Array(0) : new Int32Array(0);
  // Only views that repeat elements (stride 0, overlapping strides) are larger than their
  // storage; no state dict holds one, and expanding it is how a small file fills the memory.
  if (n > src.length) {
    throw new UserError(`${where}: shape [${t.shape}] has ${n} elements, more than its storage of ${src.length} (a broadcast view: save it with .contiguous())`);
  }
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
  if (last >= src.length) {
    throw new UserError(`${where}: offset ${t.offset} and strides [${t.stride}] reach past its storage of ${src.length} elements`);
  }
  if (isContiguous(t)) {
    // A storage used by this tensor alone is handed over without a copy.
    return shared ? src.slice(t.offset, t.offset + n) : src.subarray(t.offset, t.offset + n);
  }
  const out = src instanceof Float32Array ? new Float32Array(n) : new Int32Array(n);
  const nd = t.shape.length;
  const inner = t.shape[nd - 1];
  const innerStride = t.stride[nd - 1];
  const index = new Array<number>(nd).fill(0);
  let base = t.offset;
  let o = 0;
  for (;;) {
    for (let j = 0, s = base; j < inner; j++, s += innerStride) out[o++] = src[s];
    let d = nd - 2;
    for (; d >= 0; d--) {
      base += t.stride[d];
      if (++index[d] < t.shape[d]) break;
      base -= t.stride[d] * t.shape[d];
      index[d] = 0;
    }
    if (d < 0) return out;
  }
}

function isContiguous(t: TensorRef): boolean {
  let expected = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expected) return false;
    expected *= t.shape[d];
  }
  return true;
}
