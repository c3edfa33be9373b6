// Oneof discriminators: every decoded message names its set oneof member under the camelCase oneof name the
// generated interface declares (`DataStream_Header.contentHeader`, not `content_header`), whether it came from
// binary, proto3 JSON or `create`, and encoders accept a message carrying that discriminator.
import { describe, expect, it } from 'vitest';
import * as lk from '@livekit/protocol';
import protobuf from 'protobufjs/light.js';
import * as kite from '@kite/protocol';
import { DataPacket, DataStream_Header, type MessageCodec } from '@kite/protocol';

const isCodec = (v: unknown): v is MessageCodec<Record<string, unknown>> =>
  typeof v === 'object' && v !== null && 'typeName' in v && 'decode' in v && 'reflection' in v;
const codecs = Object.values(kite).filter(isCodec);

/** A non-default value for one field, so it survives encoding whatever the field's presence rules. */
function sample(field: protobuf.Field): unknown {
  field.resolve();
  if (field.resolvedType instanceof protobuf.Type) return {};
  if (field.resolvedType instanceof protobuf.Enum) return 1;
  switch (field.type) {
    case 'string':
      return 'x';
    case 'bytes':
      return new Uint8Array([1]);
    case 'bool':
      return true;
    default:
      return 1;
  }
}

describe('oneof discriminators are camelCase', () => {
  it('DataStream.Header (nested message, multi-word oneof) from the official encoder', () => {
    const theirs = new lk.DataStream_Header({
      streamId: 's1',
      topic: 'chat',
      totalLength: 5n,
      contentHeader: { case: 'textHeader', value: new lk.DataStream_TextHeader({ operationType: lk.DataStream_OperationType.CREATE }) },
    });
    const ours = DataStream_Header.decode(theirs.toBinary());
    expect(ours.contentHeader).toBe('textHeader');
    expect(ours).not.toHaveProperty('content_header');
    expect(ours.textHeader).toBeDefined();
    expect(ours.totalLength).toBe(5);
    // proto3 `optional` synthetic oneofs get no discriminator under any spelling
    expect(Object.keys(ours).filter((k) => k.startsWith('_'))).toEqual([]);

    const json = DataStream_Header.fromJson(theirs.toJson());
    expect(json.contentHeader).toBe('textHeader');
    expect(json).not.toHaveProperty('content_header');
    expect(DataStream_Header.fromJson(theirs.toJson({ useProtoFieldName: true })).contentHeader).toBe('textHeader');

    const bytes = new lk.DataStream_Header({ streamId: 's2', contentHeader: { case: 'byteHeader', value: new lk.DataStream_ByteHeader({ name: 'f.bin' }) } });
    expect(DataStream_Header.decode(bytes.toBinary()).contentHeader).toBe('byteHeader');
  });

  it('inside a DataPacket, and encode accepts the camelCase discriminator', () => {
    const header = DataStream_Header.create({ streamId: 's3', contentHeader: 'byteHeader', byteHeader: { name: 'a.txt' } });
    expect(header.contentHeader).toBe('byteHeader');
    const bytes = DataPacket.encode({ value: 'streamHeader', streamHeader: header });
    const theirs = lk.DataPacket.fromBinary(bytes);
    expect(theirs.value.case).toBe('streamHeader');
    const h = theirs.value.value as lk.DataStream_Header;
    expect(h.contentHeader.case).toBe('byteHeader');
    expect((h.contentHeader.value as lk.DataStream_ByteHeader).name).toBe('a.txt');

    const back = DataPacket.decode(bytes);
    expect(back.value).toBe('streamHeader');
    expect(back.streamHeader?.contentHeader).toBe('byteHeader');
    expect(DataPacket.fromJson(DataPacket.toJson(back)).streamHeader?.contentHeader).toBe('byteHeader');
  });

  it('every real oneof of every message: decode, fromJson and create name the member under a camelCase key', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const c of codecs) {
      const type = c.reflection;
      for (const oneof of type.oneofsArray) {
        if (oneof.name.startsWith('_') && oneof.fieldsArray.length === 1) continue; // proto3 `optional`
        if (!/^[a-z][A-Za-z0-9]*$/.test(oneof.name)) problems.push(`${c.typeName}: oneof named ${oneof.name}`);
        for (const member of oneof.fieldsArray) {
          checked++;
          const msg = { [member.name]: sample(member) };
          const fromBinary = c.decode(c.encode(msg));
          const fromJson = c.fromJson(c.toJson(msg));
          const created = c.create(msg);
          for (const [how, m] of [['decode', fromBinary], ['fromJson', fromJson], ['create', created]] as const) {
            if (m[oneof.name] !== member.name) problems.push(`${c.typeName}.${oneof.name} via ${how}: ${String(m[oneof.name])}, want ${member.name}`);
            const stray = Object.keys(m).filter((k) => k.includes('_'));
            if (stray.length) problems.push(`${c.typeName} via ${how}: snake_case keys ${stray.join(', ')}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });
});
