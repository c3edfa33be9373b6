// Checks that Kite's own .proto files (repo-root /proto) agree on the wire with
// the published LiveKit protocol (@livekit/protocol, protobuf-es v1 descriptors):
// same type names, field numbers, field names, field types, repeated/map-ness,
// oneof membership, proto3 `optional`, and enum value numbers.
import { describe, it, expect } from 'vitest';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import * as livekit from '@livekit/protocol';

const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

// ---------------------------------------------------------------------------
// Normalised shapes shared by both sides
// ---------------------------------------------------------------------------

interface FieldShape {
  no: number;
  name: string;
  /** "string", "int64", ..., "message:livekit.X", "enum:livekit.Y", or "map<K,V>" */
  type: string;
  repeated: boolean;
  map: boolean;
  /** real oneof group name, or null (proto3 `optional` synthetic oneofs excluded) */
  oneof: string | null;
  optional: boolean;
}

interface MessageShape {
  fields: Map<number, FieldShape>;
}

type EnumShape = Map<string, number>;

// ---------------------------------------------------------------------------
// Our side: protobufjs reflection
// ---------------------------------------------------------------------------

function loadOurs() {
  const files = readdirSync(PROTO_DIR)
    .filter((f) => f.endsWith('.proto'))
    .sort()
    .map((f) => PROTO_DIR + f);
  // keepCase is a parse option, so it goes through Root#loadSync (the
  // top-level protobuf.loadSync only accepts a target root).
  const root = new protobuf.Root().loadSync(files, { keepCase: true });
  root.resolveAll();

  const messages = new Map<string, MessageShape>();
  const enums = new Map<string, EnumShape>();
  const services = new Map<string, protobuf.Service>();

  const strip = (n: string) => n.replace(/^\./, '');
  const describeType = (f: protobuf.Field): string => {
    if (f.resolvedType instanceof protobuf.Type) return `message:${strip(f.resolvedType.fullName)}`;
    if (f.resolvedType instanceof protobuf.Enum) return `enum:${strip(f.resolvedType.fullName)}`;
    return f.type;
  };

  const visit = (ns: protobuf.NamespaceBase) => {
    for (const obj of ns.nestedArray) {
      const full = strip(obj.fullName);
      // skip google.protobuf well-known types pulled in by imports
      if (full.startsWith('google.')) continue;
      if (obj instanceof protobuf.Type) {
        const fields = new Map<number, FieldShape>();
        for (const f of obj.fieldsArray) {
          const isMap = f instanceof protobuf.MapField;
          const proto3Optional = Boolean(f.options?.proto3_optional);
          let type = describeType(f);
          if (isMap) type = `map<${(f as protobuf.MapField).keyType},${type}>`;
          fields.set(f.id, {
            no: f.id,
            name: f.name,
            type,
            repeated: f.repeated,
            map: isMap,
            oneof: f.partOf && !proto3Optional ? f.partOf.name : null,
            optional: proto3Optional,
          });
        }
        messages.set(full, { fields });
      } else if (obj instanceof protobuf.Enum) {
        enums.set(full, new Map(Object.entries(obj.values)));
      } else if (obj instanceof protobuf.Service) {
        services.set(full, obj);
      }
      if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) {
        visit(obj as protobuf.NamespaceBase);
      }
    }
  };
  visit(root);
  return { root, messages, enums, services };
}

// ---------------------------------------------------------------------------
// Their side: protobuf-es v1 runtime descriptors from @livekit/protocol
// ---------------------------------------------------------------------------

// protobuf-es ScalarType numbering (= google.protobuf.FieldDescriptorProto.Type)
const SCALAR_NAMES: Record<number, string> = {
  1: 'double',
  2: 'float',
  3: 'int64',
  4: 'uint64',
  5: 'int32',
  6: 'fixed64',
  7: 'fixed32',
  8: 'bool',
  9: 'string',
  12: 'bytes',
  13: 'uint32',
  15: 'sfixed32',
  16: 'sfixed64',
  17: 'sint32',
  18: 'sint64',
};

interface EsEnumType {
  typeName: string;
  values: readonly { no: number; name: string }[];
}
interface EsFieldInfo {
  no: number;
  name: string;
  kind: 'scalar' | 'enum' | 'message' | 'map';
  T?: unknown;
  K?: number;
  V?: { kind: 'scalar' | 'enum' | 'message'; T: unknown };
  repeated?: boolean;
  opt?: boolean;
  oneof?: { name: string };
}
interface EsMessageType {
  typeName: string;
  fields: { list(): readonly EsFieldInfo[] };
}

function isMessageType(v: unknown): v is EsMessageType {
  return (
    typeof v === 'function' &&
    typeof (v as { typeName?: unknown }).typeName === 'string' &&
    typeof (v as { fields?: { list?: unknown } }).fields?.list === 'function'
  );
}

/** protobuf-es v1 stores an enum's descriptor on the TS enum object under a private symbol. */
function enumTypeOf(obj: unknown): EsEnumType | undefined {
  if (obj === null || typeof obj !== 'object') return undefined;
  for (const sym of Object.getOwnPropertySymbols(obj)) {
    if (sym.description === '@bufbuild/protobuf/enum-type') {
      return (obj as Record<symbol, EsEnumType>)[sym];
    }
  }
  return undefined;
}

function loadTheirs() {
  const messages = new Map<string, MessageShape>();
  const enums = new Map<string, EnumShape>();

  const addEnum = (e: EsEnumType | undefined) => {
    if (!e || enums.has(e.typeName)) return;
    enums.set(e.typeName, new Map(e.values.map((v) => [v.name, v.no])));
  };
  const valueType = (kind: string, T: unknown): string => {
    if (kind === 'scalar') return SCALAR_NAMES[T as number] ?? `scalar#${String(T)}`;
    if (kind === 'enum') {
      addEnum(T as EsEnumType);
      return `enum:${(T as EsEnumType).typeName}`;
    }
    return `message:${(T as EsMessageType).typeName}`;
  };

  const exported = Object.values(livekit as Record<string, unknown>);
  for (const v of exported) {
    addEnum(enumTypeOf(v));
    if (!isMessageType(v)) continue;
    const fields = new Map<number, FieldShape>();
    for (const f of v.fields.list()) {
      const isMap = f.kind === 'map';
      const type = isMap
        ? `map<${SCALAR_NAMES[f.K as number]},${valueType(f.V!.kind, f.V!.T)}>`
        : valueType(f.kind, f.T);
      fields.set(f.no, {
        no: f.no,
        name: f.name,
        type,
        repeated: Boolean(f.repeated),
        map: isMap,
        oneof: f.oneof?.name ?? null,
        optional: Boolean(f.opt),
      });
    }
    messages.set(v.typeName, { fields });
  }
  return { messages, enums };
}

// ---------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------

const MUST_DEFINE = [
  'SignalRequest',
  'SignalResponse',
  'JoinResponse',
  'ParticipantUpdate',
  'DataPacket',
  'WebhookEvent',
  'JoinRequest',
  'WrappedJoinRequest',
  'CreateRoomRequest',
  'ListRoomsRequest',
  'ListRoomsResponse',
  'DeleteRoomRequest',
  'DeleteRoomResponse',
  'ListParticipantsRequest',
  'ListParticipantsResponse',
  'RoomParticipantIdentity',
  'RemoveParticipantResponse',
  'MuteRoomTrackRequest',
  'MuteRoomTrackResponse',
  'UpdateParticipantRequest',
  'UpdateSubscriptionsRequest',
  'UpdateSubscriptionsResponse',
  'SendDataRequest',
  'SendDataResponse',
  'UpdateRoomMetadataRequest',
].map((n) => `livekit.${n}`);

/** Messages that must carry every field @livekit/protocol 1.52.1 has, minus listed exceptions. */
const COMPLETE: Record<string, string[]> = {
  'livekit.SignalRequest': [],
  'livekit.SignalResponse': [],
  'livekit.DataPacket': [],
  'livekit.JoinResponse': [],
  'livekit.ParticipantInfo': [],
  'livekit.TrackInfo': [],
  'livekit.Room': [],
  // egress / ingress / agent-job payloads are large and not modelled by Kite
  'livekit.WebhookEvent': ['egress_info', 'ingress_info', 'job'],
};

const ROOM_SERVICE: Record<string, [string, string]> = {
  CreateRoom: ['CreateRoomRequest', 'Room'],
  ListRooms: ['ListRoomsRequest', 'ListRoomsResponse'],
  DeleteRoom: ['DeleteRoomRequest', 'DeleteRoomResponse'],
  ListParticipants: ['ListParticipantsRequest', 'ListParticipantsResponse'],
  GetParticipant: ['RoomParticipantIdentity', 'ParticipantInfo'],
  RemoveParticipant: ['RoomParticipantIdentity', 'RemoveParticipantResponse'],
  MutePublishedTrack: ['MuteRoomTrackRequest', 'MuteRoomTrackResponse'],
  UpdateParticipant: ['UpdateParticipantRequest', 'ParticipantInfo'],
  UpdateSubscriptions: ['UpdateSubscriptionsRequest', 'UpdateSubscriptionsResponse'],
  SendData: ['SendDataRequest', 'SendDataResponse'],
  UpdateRoomMetadata: ['UpdateRoomMetadataRequest', 'Room'],
};

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe('Kite proto schema parity with @livekit/protocol', () => {
  const ours = loadOurs();
  const theirs = loadTheirs();

  const shared = [...ours.messages.keys()].filter((n) => theirs.messages.has(n)).sort();
  const sharedEnums = [...ours.enums.keys()].filter((n) => theirs.enums.has(n)).sort();

  it('loads and reports coverage', () => {
    expect(ours.messages.size).toBeGreaterThan(0);
    const oursOnly = [
      ...[...ours.messages.keys()].filter((n) => !theirs.messages.has(n)),
      ...[...ours.enums.keys()].filter((n) => !theirs.enums.has(n)),
    ];
    const omitted: string[] = [];
    for (const name of shared) {
      const mine = ours.messages.get(name)!;
      for (const f of theirs.messages.get(name)!.fields.values()) {
        if (!mine.fields.has(f.no)) omitted.push(`${name.replace(/^livekit\./, '')}.${f.name}=${f.no}`);
      }
    }
    console.log(
      `[schema-parity] ours: ${ours.messages.size} messages, ${ours.enums.size} enums; ` +
        `checked against LiveKit: ${shared.length} messages, ${sharedEnums.length} enums`,
    );
    console.log(`[schema-parity] LiveKit fields Kite omits (${omitted.length}): ${omitted.join(', ') || '(none)'}`);
    if (oursOnly.length) console.log(`[schema-parity] Kite-only types: ${oursOnly.join(', ')}`);
  });

  it('defines the required messages', () => {
    const missing = MUST_DEFINE.filter((n) => !ours.messages.has(n));
    expect(missing).toEqual([]);
  });

  it('every field we define matches LiveKit (number, name, type, repeated/map, oneof, optional)', () => {
    const problems: string[] = [];
    for (const name of shared) {
      const theirFields = theirs.messages.get(name)!.fields;
      for (const f of ours.messages.get(name)!.fields.values()) {
        const t = theirFields.get(f.no);
        if (!t) {
          problems.push(`${name}.${f.name}: field number ${f.no} does not exist in LiveKit`);
          continue;
        }
        if (JSON.stringify(f) !== JSON.stringify(t)) {
          problems.push(`${name}#${f.no}: ours ${JSON.stringify(f)} vs LiveKit ${JSON.stringify(t)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every enum value we define has the same number in LiveKit', () => {
    const problems: string[] = [];
    for (const name of sharedEnums) {
      const theirValues = theirs.enums.get(name)!;
      for (const [valueName, no] of ours.enums.get(name)!) {
        if (theirValues.get(valueName) !== no) {
          problems.push(`${name}.${valueName}: ours ${no}, LiveKit ${String(theirValues.get(valueName))}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('omits no LiveKit field from the core messages', () => {
    const problems: string[] = [];
    for (const [name, allowed] of Object.entries(COMPLETE)) {
      const mine = ours.messages.get(name);
      const theirsMsg = theirs.messages.get(name);
      if (!mine || !theirsMsg) {
        problems.push(`${name}: missing (ours: ${Boolean(mine)}, LiveKit: ${Boolean(theirsMsg)})`);
        continue;
      }
      for (const f of theirsMsg.fields.values()) {
        if (!mine.fields.has(f.no) && !allowed.includes(f.name)) problems.push(`${name}.${f.name}=${f.no}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('RoomService exposes the expected methods', () => {
    const svc = ours.services.get('livekit.RoomService');
    expect(svc).toBeDefined();
    for (const [method, [req, res]] of Object.entries(ROOM_SERVICE)) {
      const m = svc!.methods[method];
      expect(m, method).toBeDefined();
      expect(m.resolvedRequestType?.fullName, `${method} request`).toBe(`.livekit.${req}`);
      expect(m.resolvedResponseType?.fullName, `${method} response`).toBe(`.livekit.${res}`);
    }
  });
});
