// Loads loader/loader.proto with protobufjs and exposes the message types.
// The .proto file is the one contract between TypeScript and the C loader.
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import path from 'node:path';

function findProto(): string {
  // Works from control-plane/src (ts) and dist/control-plane/src (js).
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = path.join(dir, 'loader', 'loader.proto');
    if (existsSync(p)) return p;
    dir = path.dirname(dir);
  }
  throw new Error('loader/loader.proto not found above ' + fileURLToPath(import.meta.url));
}

export const PROTO_PATH = findProto();
const root = protobuf.loadSync(PROTO_PATH);
export const RequestType = root.lookupType('switchyard.loader.v1.Request');
export const ResponseType = root.lookupType('switchyard.loader.v1.Response');
export const ErrorCodes = root.lookupEnum('switchyard.loader.v1.ErrorCode').values as Record<string, number>;

export const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: Number, defaults: true, oneofs: true, arrays: true };
export const OpType = root.lookupType('switchyard.loader.v1.MapOp');
