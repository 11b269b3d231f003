// A minimal, safe unpickler for what torch.save writes (protocol 2, plus the
// protocol 3–4 opcodes newer Pythons emit). It never runs code: globals are
// resolved through a fixed table (`resolveGlobal`), and any other class
// becomes an inert PyObject that records its constructor arguments and state,
// so checkpoints that carry training objects (args, optimizers) still load.

/** A dict from the pickle; keys keep insertion order. */
export type PyDict = Map<PyValue, PyValue>;

export class PyGlobal {
  readonly module: string;
  readonly name: string;
  constructor(module: string, name: string) {
    this.module = module;
    this.name = name;
  }
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a class the unpickler does not know; inert. */
export class PyObject {
  readonly cls: PyGlobal;
  readonly args: PyValue[];
  state: PyValue = null;
  constructor(cls: PyGlobal, args: PyValue[]) {
    this.cls = cls;
    this.args = args;
  }
}

/** Tuples are frozen arrays so they can be told apart from lists. */
export type PyTuple = readonly PyValue[] & { readonly tuple: true };

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PyGlobal | PyObject | object;

export function tuple(items: PyValue[]): PyTuple {
  return Object.freeze(Object.assign(items, { tuple: true as const })) as PyTuple;
}

export function isTuple(v: unknown): v is PyTuple {
  return Array.isArray(v) && (v as { tuple?: boolean }).tuple === true;
}

export interface UnpickleHooks {
  /** Called for BINPERSID/PERSID with the persistent id. */
  persistentLoad(pid: PyValue): PyValue;
  /**
   * Called on REDUCE/NEWOBJ with a known global; return undefined to fall back
   * to an inert PyObject.
   */
  call?(fn: PyGlobal, args: PyValue[]): PyValue | undefined;
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

/** Parses pickle bytes into JS values. Errors say which opcode and where. */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks): PyValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const text = new TextDecoder('utf-8');
  const latin1 = new TextDecoder('latin1');
  const stack: StackItem[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;

  const need = (n: number) => {
    if (pos + n > data.byteLength) throw new Error(`pickle: truncated at byte ${pos} (needs ${n} more)`);
  };
  const u8 = () => {
    need(1);
    return data[pos++];
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = Number(view.getBigUint64(pos, true));
    pos += 8;
    return v;
  };
  const bytes = (n: number) => {
    need(n);
    const v = data.subarray(pos, pos + n);
    pos += n;
    return v;
  };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new Error(`pickle: unterminated line at byte ${pos}`);
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined) throw new Error(`pickle: stack underflow at byte ${pos}`);
    if (v === MARK) throw new Error(`pickle: unexpected mark at byte ${pos}`);
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new Error(`pickle: empty stack at byte ${pos}`);
    return v;
  };
  const popMark = (): PyValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new Error(`pickle: no mark at byte ${pos}`);
    const items = stack.splice(at) as PyValue[];
    items.shift();
    return items;
  };
  const setItems = (target: PyValue, items: PyValue[]) => {
    if (!(target instanceof Map)) throw new Error(`pickle: SETITEM(S) on a non-dict at byte ${pos}`);
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const appendItems = (target: PyValue, items: PyValue[]) => {
    if (!Array.isArray(target) || isTuple(target)) throw new Error(`pickle: APPEND(S) on a non-list at byte ${pos}`);
    (target as PyValue[]).push(...items);
  };
  const call = (fn: PyValue, args: PyValue[]): PyValue => {
    if (!(fn instanceof PyGlobal)) throw new Error(`pickle: call of a non-global at byte ${pos}`);
    return hooks.call?.(fn, args) ?? builtinCall(fn, args);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME (protocol 4): frames are just the stream
      case 0x2e:
        return pop(); // STOP
      case 0x28:
        stack.push(MARK);
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x8a:
        stack.push(longLE(bytes(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(longLE(bytes(u32())));
        break; // LONG4
      case 0x49: {
        // INT (text): also spells bools as 00/01
        const s = line();
        stack.push(s === '00' ? false : s === '01' ? true : Number.parseInt(s, 10));
        break;
      }
      case 0x4c:
        stack.push(BigInt(line().replace(/L$/, '')));
        break; // LONG (text)
      case 0x47: {
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      } // BINFLOAT (big-endian)
      case 0x46:
        stack.push(Number.parseFloat(line()));
        break; // FLOAT (text)
      case 0x58:
        stack.push(text.decode(bytes(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(text.decode(bytes(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(text.decode(bytes(u64())));
        break; // BINUNICODE8
      case 0x56:
        stack.push(line());
        break; // UNICODE (raw-unicode-escape; ASCII in practice)
      case 0x54:
        stack.push(latin1.decode(bytes(i32())));
        break; // BINSTRING
      case 0x55:
        stack.push(latin1.decode(bytes(u8())));
        break; // SHORT_BINSTRING
      case 0x53:
        stack.push(line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2'));
        break; // STRING
      case 0x42:
        stack.push(bytes(u32()).slice());
        break; // BINBYTES
      case 0x43:
        stack.push(bytes(u8()).slice());
        break; // SHORT_BINBYTES
      case 0x8e:
        stack.push(bytes(u64()).slice());
        break; // BINBYTES8
      case 0x96:
        stack.push(bytes(u64()).slice());
        break; // BYTEARRAY8
      case 0x29:
        stack.push(tuple([]));
        break; // EMPTY_TUPLE
      case 0x85:
        stack.push(tuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      } // TUPLE3
      case 0x74:
        stack.push(tuple(popMark()));
        break; // TUPLE
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x61: {
        const v = pop();
        appendItems(top(), [v]);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        appendItems(top(), items);
        break;
      } // APPENDS
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x64: {
        const m: PyDict = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      } // DICT
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x90: {
        const items = popMark();
        const s = top();
        if (s instanceof Set) for (const i of items) s.add(i);
        break;
      } // ADDITEMS
      case 0x91:
        stack.push(new Set(popMark()));
        break; // FROZENSET
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x70:
        memo.set(Number.parseInt(line(), 10), top());
        break; // PUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
        stack.push(memoGet(memo, u8(), pos));
        break; // BINGET
      case 0x6a:
        stack.push(memoGet(memo, u32(), pos));
        break; // LONG_BINGET
      case 0x67:
        stack.push(memoGet(memo, Number.parseInt(line(), 10), pos));
        break; // GET
      case 0x63: {
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      } // GLOBAL
      case 0x93: {
        const name = pop();
        const module = pop();
        stack.push(resolveGlobal(String(module), String(name)));
        break;
      } // STACK_GLOBAL
      case 0x52: {
        const args = pop();
        const fn = pop();
        stack.push(call(fn, asArgs(args, pos)));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop();
        const cls = pop();
        stack.push(call(cls, asArgs(args, pos)));
        break;
      } // NEWOBJ
      case 0x92: {
        pop();
        const args = pop();
        const cls = pop();
        stack.push(call(cls, asArgs(args, pos)));
        break;
      } // NEWOBJ_EX
      case 0x62: {
        const state = pop();
        build(top(), state);
        break;
      } // BUILD
      case 0x51:
        stack.push(hooks.persistentLoad(pop()));
        break; // BINPERSID
      case 0x50:
        stack.push(hooks.persistentLoad(line()));
        break; // PERSID
      default:
        throw new Error(`pickle: unsupported opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}`);
    }
  }
}

function memoGet(memo: Map<number, PyValue>, key: number, pos: number): PyValue {
  const value = memo.get(key);
  if (value === undefined) throw new Error(`pickle: memo key ${key} missing at byte ${pos}`);
  return value;
}

function asArgs(args: PyValue, pos: number): PyValue[] {
  if (!Array.isArray(args)) throw new Error(`pickle: call arguments are not a tuple at byte ${pos}`);
  return [...args];
}

/** Little-endian two's-complement integer; a number when it is safe, else a bigint. */
function longLE(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const DICT_CLASSES = new Set(['collections.OrderedDict', 'builtins.dict', '__builtin__.dict']);

function resolveGlobal(module: string, name: string): PyGlobal {
  return new PyGlobal(module, name);
}

/** What a few harmless builtins do; everything else becomes an inert PyObject. */
function builtinCall(fn: PyGlobal, args: PyValue[]): PyValue {
  const q = fn.qualifiedName;
  if (DICT_CLASSES.has(q)) {
    const m: PyDict = new Map();
    const init = args[0];
    if (Array.isArray(init)) for (const pair of init) if (Array.isArray(pair)) m.set(pair[0], pair[1]);
    return m;
  }
  if (q === '_codecs.encode') {
    // Protocol 2 pickles bytes as _codecs.encode(str, 'latin1').
    const s = String(args[0] ?? '');
    return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
  }
  if (q === 'builtins.set' || q === '__builtin__.set') return new Set(Array.isArray(args[0]) ? args[0] : []);
  return new PyObject(fn, args);
}

function build(target: PyValue, state: PyValue): void {
  if (target instanceof PyObject) target.state = state;
  // OrderedDict state (e.g. a state dict's `_metadata`) and anything else: ignored.
}
