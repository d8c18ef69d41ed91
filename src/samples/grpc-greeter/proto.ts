/**
 * The wire format of the greeter, written by hand so the sample needs no protobuf library or generated
 * code. The service, as a .proto file would say it:
 *
 *   package weft.demo;
 *   service Greeter { rpc SayHello (HelloRequest) returns (HelloReply); }
 *   message HelloRequest { string name = 1; }
 *   message HelloReply { string message = 1; string version = 2; string hostname = 3; }
 *
 * Only what these messages need is implemented: string fields (wire type 2) are written; reading skips
 * fields of every wire type, so a client with a newer message still parses. gRPC frames each message
 * with a 1-byte compressed flag and a 4-byte big-endian length (gRPC over HTTP/2, "Length-Prefixed-Message").
 */

export const SAY_HELLO_PATH = '/weft.demo.Greeter/SayHello';
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** gRPC status codes used here (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Encodes string fields by number; empty strings are left out, as proto3 leaves out defaults. */
export function encodeStrings(fields: Record<number, string | undefined>): Buffer {
  const parts: Buffer[] = [];
  for (const [num, value] of Object.entries(fields)) {
    if (!value) continue;
    const bytes = Buffer.from(value, 'utf8');
    parts.push(Buffer.from([...varint((Number(num) << 3) | 2), ...varint(bytes.length)]), bytes);
  }
  return Buffer.concat(parts);
}

/** Encodes varint fields by number (the health check's enum); zeros are left out. */
export function encodeVarints(fields: Record<number, number>): Buffer {
  const bytes: number[] = [];
  for (const [num, value] of Object.entries(fields)) {
    if (value) bytes.push(...varint(Number(num) << 3), ...varint(value));
  }
  return Buffer.from(bytes);
}

/** Decodes the string fields of a message; other fields are skipped. Throws on truncated input. */
export function decodeStrings(buf: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  let i = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = readVarint();
      if (i + len > buf.length) throw new Error('truncated field');
      out.set(field, buf.subarray(i, i + len).toString('utf8'));
      i += len;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (i > buf.length) throw new Error('truncated field');
  }
  return out;
}

/** Wraps a message in a gRPC frame (uncompressed). */
export function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(0, 0);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** The first message of a request or response body, or an error for compressed or short frames. */
export function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new Error('no gRPC message in body');
  if (body[0] !== 0) throw new Error('compressed messages are not supported');
  const len = body.readUInt32BE(1);
  if (body.length < 5 + len) throw new Error('truncated gRPC message');
  return body.subarray(5, 5 + len);
}
