/**
 * A pickle virtual machine for the opcodes torch.save emits (protocol 2, plus the protocol 4/5
 * framing and string opcodes). It never executes code: GLOBAL / STACK_GLOBAL resolve names only
 * through the caller's `findGlobal` allowlist, and REDUCE / NEWOBJ call only the functions that
 * allowlist returns. Python values map to JS: dict -> Map, list and tuple -> Array, str -> string,
 * bytes -> Uint8Array, int -> number (bigint beyond 2^53), float -> number, None -> null.
 */
import { UserError } from '../errors.js';

/** A Python global the allowlist admits; `call` is present when it may be called. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: unknown[]) => unknown,
  ) {}
}

export interface UnpickleHooks {
  /** `source` names the pickle in errors (file and entry). */
  source: string;
  /** Returns the allowed global or undefined to refuse it. */
  findGlobal(module: string, name: string): PyGlobal | undefined;
  /** Resolves BINPERSID ids (torch: storages). */
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol('mark');

/** Sizes, offsets and strides fit in 8 bytes; an integer this long is never a checkpoint's. */
const MAX_LONG_BYTES = 64;

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks): unknown {
  const fail = (what: string): never => {
    throw new UserError(`${hooks.source}: bad pickle (${what})`);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const need = (n: number) => {
    if (pos + n > bytes.length) fail('truncated');
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const i32 = () => (need(4), (pos += 4), dv.getInt32(pos - 4, true));
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    pos += 8;
    const v = dv.getBigUint64(pos - 8, true);
    if (v > BigInt(bytes.length)) fail('length past the end');
    return Number(v);
  };
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const utf8 = (n: number) => Buffer.from(take(n)).toString('utf8');
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated');
    const s = Buffer.from(bytes.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s;
  };
  // Python keeps marks on a stack of their own: a MARK is never a value.
  const pop = () => (stack.length === 0 || stack[stack.length - 1] === MARK ? fail('stack underflow') : stack.pop());
  const top = () => (stack.length === 0 || stack[stack.length - 1] === MARK ? fail('stack underflow') : stack[stack.length - 1]);
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail('MARK missing');
    const items = stack.splice(at);
    items.shift();
    return items;
  };
  const resolve = (module: string, name: string) =>
    hooks.findGlobal(module, name) ?? fail(`global ${module}.${name} is not allowed`);
  const call = (f: unknown, args: unknown) => {
    if (!(f instanceof PyGlobal) || !f.call) return fail(`cannot call ${f instanceof PyGlobal ? `${f.module}.${f.name}` : typeof f}`);
    if (!Array.isArray(args)) return fail(`arguments of ${f.module}.${f.name} are not a tuple`);
    return f.call(args);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) fail('SETITEM on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const append = (list: unknown, items: unknown[]) => {
    if (!Array.isArray(list)) fail('APPEND on a non-list');
    // one by one: spreading a long item list into push() overflows the stack
    for (const item of items) (list as unknown[]).push(item);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: { // STOP
        const result = pop();
        return result;
      }
      case 0x28: stack.push(MARK); break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(long(take(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = u32();
        if (n > MAX_LONG_BYTES) fail(`LONG4 integer of ${n} bytes at byte ${at}`);
        stack.push(long(take(n)));
        break;
      }
      case 0x47: need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x58: stack.push(utf8(u32())); break; // BINUNICODE
      case 0x8c: stack.push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8(u64())); break; // BINUNICODE8
      case 0x54: stack.push(Buffer.from(take(u32())).toString('latin1')); break; // BINSTRING
      case 0x55: stack.push(Buffer.from(take(u8())).toString('latin1')); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x63: { const module = line(); stack.push(resolve(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); stack.push(call(pop(), args)); break; } // REDUCE
      case 0x81: { const args = pop(); stack.push(call(pop(), args)); break; } // NEWOBJ
      case 0x62: { // BUILD: only instance attributes of a dict (OrderedDict._metadata), dropped
        const state = pop();
        if (!(top() instanceof Map) || !(state instanceof Map || state === null || Array.isArray(state))) {
          fail(`BUILD on an unsupported object at byte ${at}`);
        }
        break;
      }
      case 0x51: stack.push(hooks.persistentLoad(pop())); break; // BINPERSID
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }

  function memoGet(i: number): unknown {
    if (!memo.has(i)) fail(`memo ${i} is empty`);
    return memo.get(i);
  }
}

/**
 * Little-endian two's-complement integer, read in one pass (through a hex string: shifting a
 * BigInt byte by byte is quadratic).
 */
function long(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let hex = '';
  for (let i = b.length - 1; i >= 0; i--) hex += HEX[b[i]];
  let v = BigInt(`0x${hex}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
