// Binary and proto3-JSON codecs over the protobufjs reflection of proto/.
// Decoded messages are plain objects: scalars and lists always present (proto3 defaults), message fields and
// `optional`/oneof fields present only when set, 64-bit integers as numbers, bytes as Uint8Array, enums as numbers,
// and each oneof's set member named by a discriminator property (e.g. `SignalRequest.message === 'offer'`).
import protobuf from 'protobufjs/light.js';
import { descriptor, protoNames } from './gen/descriptor.js';
import { base64Decode, base64Encode } from './base64.js';

/** Thrown for bytes or JSON that do not fit the schema. `path` names the offending field. */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly path = '',
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'ProtocolError';
  }
}

/** A message with every field optional, recursively: what encoders and `create` accept. */
export type PartialMessage<T> = { [K in keyof T]?: PartialField<T[K]> };
type PartialField<F> = F extends Uint8Array
  ? F
  : F extends (infer U)[]
    ? PartialField<U>[]
    : F extends object
      ? PartialMessage<F>
      : F;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface JsonWriteOptions {
  /** Use the .proto field names (snake_case) instead of lowerCamelCase, as LiveKit's Twirp server does. */
  useProtoNames?: boolean;
  /** Also write fields that hold their default value (protojson `EmitUnpopulated`). */
  emitDefaults?: boolean;
}

export interface MessageCodec<T> {
  /** Full name without the leading dot, e.g. `livekit.SignalRequest`. */
  readonly typeName: string;
  /** A complete message from a partial one (defaults filled in). */
  create(init?: PartialMessage<T>): T;
  encode(message: PartialMessage<T>): Uint8Array;
  /** Throws ProtocolError on malformed bytes. */
  decode(bytes: Uint8Array): T;
  toJson(message: PartialMessage<T>, options?: JsonWriteOptions): JsonObject;
  /** Accepts camelCase and proto names, enums by name or number, 64-bit ints as strings or numbers; ignores unknown keys. */
  fromJson(json: unknown): T;
  /** The protobufjs reflection type, for hot paths that want to work on protobufjs message instances. */
  readonly reflection: protobuf.Type;
}

// ---------------------------------------------------------------------------------------------------------------
// Field plans: one per message type, computed lazily from the reflection.

type Kind = 'int' | 'long' | 'float' | 'bool' | 'string' | 'bytes' | 'enum' | 'message';
interface FieldPlan {
  name: string; // camelCase
  protoName: string;
  kind: Kind;
  repeated: boolean;
  map: boolean;
  mapKeyKind?: Kind;
  /** True when absence is distinguishable from the default (message fields, proto3 optional, oneof members). */
  presence: boolean;
  unsigned: boolean;
  enumType?: protobuf.Enum;
  messageType?: protobuf.Type;
}
interface TypePlan {
  type: protobuf.Type;
  fields: FieldPlan[];
  byJsonKey: Map<string, FieldPlan>;
  /** Real oneofs (not proto3-optional synthetic ones): discriminator name → member field names. */
  oneofs: { name: string; members: string[] }[];
}

let rootCache: protobuf.Root | undefined;
function root(): protobuf.Root {
  return (rootCache ??= protobuf.Root.fromJSON(descriptor as protobuf.INamespace));
}

const plans = new Map<protobuf.Type, TypePlan>();
function kindOf(type: string, resolved: protobuf.ReflectionObject | null): Kind {
  if (resolved instanceof protobuf.Enum) return 'enum';
  if (resolved instanceof protobuf.Type) return 'message';
  switch (type) {
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return 'long';
    case 'double':
    case 'float':
      return 'float';
    case 'bool':
      return 'bool';
    case 'string':
      return 'string';
    case 'bytes':
      return 'bytes';
    default:
      return 'int';
  }
}
function planOf(type: protobuf.Type): TypePlan {
  let plan = plans.get(type);
  if (plan) return plan;
  type.resolveAll();
  const names = protoNames[type.fullName.slice(1)] ?? {};
  const fields: FieldPlan[] = type.fieldsArray.map((f) => {
    const isMap = f instanceof protobuf.MapField;
    return {
      name: f.name,
      protoName: names[f.name] ?? f.name,
      kind: kindOf(f.type, f.resolvedType),
      repeated: f.repeated,
      map: isMap,
      mapKeyKind: isMap ? kindOf((f as protobuf.MapField).keyType, null) : undefined,
      presence: !f.repeated && !isMap && (f.partOf != null || f.resolvedType instanceof protobuf.Type),
      unsigned: f.type.startsWith('uint') || f.type.startsWith('fixed'),
      enumType: f.resolvedType instanceof protobuf.Enum ? f.resolvedType : undefined,
      messageType: f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined,
    };
  });
  const byJsonKey = new Map<string, FieldPlan>();
  for (const f of fields) {
    byJsonKey.set(f.name, f);
    byJsonKey.set(f.protoName, f);
  }
  const oneofs = type.oneofsArray
    .filter((o) => !(o.name.startsWith('_') && o.fieldsArray.length === 1))
    .map((o) => ({ name: o.name, members: o.fieldsArray.map((f) => f.name) }));
  plan = { type, fields, byJsonKey, oneofs };
  plans.set(type, plan);
  return plan;
}

function defaultOf(f: FieldPlan): unknown {
  switch (f.kind) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// protobufjs instance → plain object

interface LongLike {
  toNumber(): number;
}
function scalarToPlain(f: FieldPlan, v: unknown): unknown {
  switch (f.kind) {
    case 'long':
      return typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : (v as LongLike).toNumber();
    case 'message':
      return toPlain(planOf(f.messageType!), v as Record<string, unknown>);
    default:
      return v;
  }
}
function toPlain(plan: TypePlan, m: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of plan.fields) {
    const v = m[f.name];
    if (f.map) {
      const mo: Record<string, unknown> = {};
      if (v) for (const k of Object.keys(v)) mo[k] = scalarToPlain(f, (v as Record<string, unknown>)[k]);
      o[f.name] = mo;
    } else if (f.repeated) {
      o[f.name] = v ? (v as unknown[]).map((x) => scalarToPlain(f, x)) : [];
    } else if (f.presence) {
      if (v != null && Object.prototype.hasOwnProperty.call(m, f.name)) o[f.name] = scalarToPlain(f, v);
    } else {
      o[f.name] = v == null ? defaultOf(f) : scalarToPlain(f, v);
    }
  }
  for (const oneof of plan.oneofs) {
    for (const member of oneof.members) {
      if (o[member] !== undefined) {
        o[oneof.name] = member;
        break;
      }
    }
  }
  return o;
}

/** Fills defaults into a partial plain object (recursively), without touching the input. */
function fill(plan: TypePlan, p: Record<string, unknown> | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const src = p ?? {};
  for (const f of plan.fields) {
    const v = src[f.name];
    const conv = (x: unknown) => (f.kind === 'message' ? fill(planOf(f.messageType!), x as Record<string, unknown>) : x);
    if (f.map) {
      const mo: Record<string, unknown> = {};
      if (v) for (const k of Object.keys(v)) mo[k] = conv((v as Record<string, unknown>)[k]);
      o[f.name] = mo;
    } else if (f.repeated) {
      o[f.name] = v ? (v as unknown[]).map(conv) : [];
    } else if (f.presence) {
      if (v != null) o[f.name] = conv(v);
    } else {
      o[f.name] = v == null ? defaultOf(f) : v;
    }
  }
  for (const oneof of plan.oneofs) {
    const set = oneof.members.find((m) => o[m] !== undefined);
    if (set) o[oneof.name] = set;
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// proto3 JSON

function isDefault(f: FieldPlan, v: unknown): boolean {
  if (v == null) return true;
  if (f.map) return Object.keys(v as object).length === 0;
  if (f.repeated) return (v as unknown[]).length === 0;
  if (f.presence) return false;
  switch (f.kind) {
    case 'bool':
      return v === false;
    case 'string':
      return v === '';
    case 'bytes':
      return (v as Uint8Array).length === 0;
    default:
      return Number(v) === 0;
  }
}

function scalarToJson(f: FieldPlan, v: unknown, opts: JsonWriteOptions): JsonValue {
  switch (f.kind) {
    case 'long':
      return String(typeof v === 'object' && v !== null ? (v as LongLike).toNumber() : v);
    case 'float': {
      const n = v as number;
      if (Number.isNaN(n)) return 'NaN';
      if (n === Infinity) return 'Infinity';
      if (n === -Infinity) return '-Infinity';
      return n;
    }
    case 'bytes':
      return base64Encode(v as Uint8Array);
    case 'enum': {
      const name = f.enumType!.valuesById[v as number];
      return name ?? (v as number);
    }
    case 'message':
      return messageToJson(planOf(f.messageType!), v as Record<string, unknown>, opts);
    default:
      return v as JsonValue;
  }
}

function messageToJson(plan: TypePlan, m: Record<string, unknown>, opts: JsonWriteOptions): JsonObject {
  const o: JsonObject = {};
  for (const f of plan.fields) {
    const v = m[f.name];
    if (v === undefined || v === null) {
      if (!opts.emitDefaults || f.presence) continue;
    } else if (!opts.emitDefaults && isDefault(f, v)) continue;
    const key = opts.useProtoNames ? f.protoName : f.name;
    if (f.map) {
      const mo: JsonObject = {};
      if (v) for (const k of Object.keys(v)) mo[k] = scalarToJson(f, (v as Record<string, unknown>)[k], opts);
      o[key] = mo;
    } else if (f.repeated) {
      o[key] = v ? (v as unknown[]).map((x) => scalarToJson(f, x, opts)) : [];
    } else {
      o[key] = v == null ? scalarToJson(f, defaultOf(f), opts) : scalarToJson(f, v, opts);
    }
  }
  return o;
}

const INT_RE = /^-?\d+$/;
function jsonToScalar(f: FieldPlan, v: unknown, path: string, kind: Kind = f.kind): unknown {
  switch (kind) {
    case 'int':
    case 'long': {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && INT_RE.test(v.trim())) n = Number(v.trim());
      else throw new ProtocolError('expected an integer', path);
      if (!Number.isInteger(n)) throw new ProtocolError('expected an integer', path);
      if (kind === 'int' && (n > 0xffffffff || n < -0x80000000)) throw new ProtocolError('integer out of range', path);
      if (f.unsigned && n < 0) throw new ProtocolError('expected a non-negative integer', path);
      return n;
    }
    case 'float': {
      if (typeof v === 'number') return v;
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
      throw new ProtocolError('expected a number', path);
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true') return true;
      if (v === 'false') return false;
      throw new ProtocolError('expected a boolean', path);
    case 'string':
      if (typeof v !== 'string') throw new ProtocolError('expected a string', path);
      return v;
    case 'bytes':
      if (typeof v !== 'string') throw new ProtocolError('expected base64 bytes', path);
      try {
        return base64Decode(v);
      } catch {
        throw new ProtocolError('invalid base64', path);
      }
    case 'enum': {
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (typeof v === 'string') {
        const n = f.enumType!.values[v];
        if (n !== undefined) return n;
        throw new ProtocolError(`unknown ${f.enumType!.name} value "${v}"`, path);
      }
      throw new ProtocolError(`expected a ${f.enumType!.name} name or number`, path);
    }
    case 'message':
      return messageFromJson(planOf(f.messageType!), v, path);
  }
}

function messageFromJson(plan: TypePlan, json: unknown, path: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ProtocolError(`expected a JSON object for ${plan.type.name}`, path);
  }
  const partial: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(json as Record<string, unknown>)) {
    const f = plan.byJsonKey.get(key);
    if (!f || v === null) continue; // unknown keys are ignored, as LiveKit's Twirp server discards them
    const p = path ? `${path}.${key}` : key;
    if (f.map) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError('expected a JSON object', p);
      const mo: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (f.mapKeyKind && f.mapKeyKind !== 'string') jsonToScalar(f, k, `${p}.${k}`, f.mapKeyKind);
        mo[k] = jsonToScalar(f, x, `${p}.${k}`);
      }
      partial[f.name] = mo;
    } else if (f.repeated) {
      if (!Array.isArray(v)) throw new ProtocolError('expected a JSON array', p);
      partial[f.name] = v.map((x, i) => jsonToScalar(f, x, `${p}[${i}]`));
    } else {
      partial[f.name] = jsonToScalar(f, v, p);
    }
  }
  return partial;
}

// ---------------------------------------------------------------------------------------------------------------

/** The codec for a message type of proto/, by full name (e.g. `livekit.JoinResponse`). */
export function codec<T>(typeName: string): MessageCodec<T> {
  let type: protobuf.Type | undefined;
  const reflect = () => (type ??= root().lookupType(typeName));
  return {
    typeName,
    get reflection() {
      return reflect();
    },
    create(init) {
      return fill(planOf(reflect()), init as Record<string, unknown>) as T;
    },
    encode(message) {
      return reflect().encode(message as Record<string, unknown>).finish();
    },
    decode(bytes) {
      let m: protobuf.Message;
      try {
        m = reflect().decode(bytes);
      } catch (err) {
        throw new ProtocolError(`malformed ${typeName}: ${(err as Error).message}`);
      }
      return toPlain(planOf(reflect()), m as unknown as Record<string, unknown>) as T;
    },
    toJson(message, options = {}) {
      return messageToJson(planOf(reflect()), message as Record<string, unknown>, options);
    },
    fromJson(json) {
      const plan = planOf(reflect());
      return fill(plan, messageFromJson(plan, json, '')) as T;
    },
  };
}
