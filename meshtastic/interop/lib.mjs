// Shared helpers for the interop tests: the two schema registries, corpus
// files, JSON normalisation and the stream framing.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createFileRegistry, createRegistry, fromBinary, ScalarType } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import * as Official from "@meshtastic/protobufs";

export { Official };

const here = dirname(fileURLToPath(import.meta.url));

// The directory the Go corpus writer filled; `make interop` passes it.
export function interopDir() {
  const dir = process.env.INTEROP_DIR;
  if (!dir) {
    throw new Error("INTEROP_DIR is not set: run these tests with `make interop`");
  }
  return dir;
}

// The meshgate binary used for the simulator test.
export function meshgateBin() {
  return process.env.MESHGATE_BIN || resolve(here, "../../bin/meshgate");
}

// Every file descriptor the official package ships, with its imports.
export function officialRegistry() {
  const files = new Set();
  const add = (file) => {
    if (files.has(file)) return;
    files.add(file);
    file.dependencies.forEach(add);
  };
  for (const namespace of Object.values(Official)) {
    for (const [name, value] of Object.entries(namespace)) {
      if (name.startsWith("file_")) add(value);
    }
  }
  return createRegistry(...files);
}

// Our schemas, from the FileDescriptorSet the Go side wrote.
export function ourRegistry() {
  const raw = readFileSync(join(interopDir(), "schemas.binpb"));
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, raw));
}

export function readCorpus(name) {
  return JSON.parse(readFileSync(join(interopDir(), name), "utf8"));
}

export function writeCorpus(name, entries) {
  writeFileSync(join(interopDir(), name), JSON.stringify(entries, null, 1) + "\n");
}

const int64Kinds = new Set([
  ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64,
]);

// normalizeJson rewrites proto3 JSON of message type `desc` into one canonical
// form, smoothing over only what the JSON mapping leaves to the printer:
// float precision (Go prints the shortest float32 text, JS the float64 one),
// 64-bit integers as string or number, enums as name or number, and the
// base64 alphabet of bytes. Anything else must match exactly.
export function normalizeJson(desc, json) {
  const out = {};
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) {
      out[key] = value; // will not match the other side, which is the point
      continue;
    }
    out[field.jsonName] = normalizeField(field, value);
  }
  return out;
}

function normalizeField(field, value) {
  switch (field.fieldKind) {
    case "list":
      return value.map((v) => normalizeSingle(field.listKind, field, v));
    case "map":
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, normalizeSingle(field.mapKind, field, v)]),
      );
    default:
      return normalizeSingle(field.fieldKind, field, value);
  }
}

function normalizeSingle(kind, field, value) {
  if (kind === "message") return normalizeJson(field.message, value);
  if (kind === "enum") {
    const known = typeof value === "number" ? field.enum.values.find((v) => v.number === value) : undefined;
    return known ? known.name : value;
  }
  switch (field.scalar) {
    case ScalarType.FLOAT:
      return Math.fround(Number(value));
    case ScalarType.DOUBLE:
      return Number(value);
    case ScalarType.BYTES:
      return Buffer.from(value, "base64").toString("hex");
    default:
      return int64Kinds.has(field.scalar) ? BigInt(value).toString() : value;
  }
}

// unknownFields walks a decoded message tree and lists every place that kept
// bytes the schema does not describe.
export function unknownFields(message, path = message.$typeName) {
  const found = [];
  if (message.$unknown?.length) {
    found.push(`${path}: field ${message.$unknown.map((u) => u.no).join(", ")}`);
  }
  const visit = (value, where) => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, `${where}[${i}]`));
    } else if (value && typeof value === "object" && !(value instanceof Uint8Array)) {
      if ("$typeName" in value) found.push(...unknownFields(value, where));
      else if ("case" in value) visit(value.value, `${where}.${value.case}`);
      else for (const [k, v] of Object.entries(value)) visit(v, `${where}[${k}]`);
    }
  };
  for (const [key, value] of Object.entries(message)) {
    if (!key.startsWith("$")) visit(value, `${path}.${key}`);
  }
  return found;
}

export const toHex = (bytes) => Buffer.from(bytes).toString("hex");
export const fromHex = (hex) => new Uint8Array(Buffer.from(hex, "hex"));

// Stream framing: 0x94 0xC3, 16-bit big-endian length, then the payload.
export const START1 = 0x94;
export const START2 = 0xc3;
export const MAX_PAYLOAD = 512;

export function frame(payload) {
  if (payload.length > MAX_PAYLOAD) throw new Error(`payload of ${payload.length} bytes is too big to frame`);
  const out = Buffer.alloc(4 + payload.length);
  out[0] = START1;
  out[1] = START2;
  out.writeUInt16BE(payload.length, 2);
  out.set(payload, 4);
  return out;
}

// FrameReader takes stream chunks and returns the complete payloads found in
// them. Bytes outside frames are collected as text; a header with an
// oversized length is skipped and the hunt for the magic goes on.
export class FrameReader {
  constructor() {
    this.buf = Buffer.alloc(0);
    this.text = "";
  }

  push(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    const payloads = [];
    for (;;) {
      const start = this.findMagic();
      if (start < 0) {
        // keep a trailing START1, it may be the first half of the magic
        const keep = this.buf.length > 0 && this.buf[this.buf.length - 1] === START1 ? 1 : 0;
        this.text += this.buf.subarray(0, this.buf.length - keep).toString("latin1");
        this.buf = this.buf.subarray(this.buf.length - keep);
        return payloads;
      }
      this.text += this.buf.subarray(0, start).toString("latin1");
      this.buf = this.buf.subarray(start);
      if (this.buf.length < 4) return payloads;
      const length = this.buf.readUInt16BE(2);
      if (length > MAX_PAYLOAD) {
        this.buf = this.buf.subarray(1); // not a real header: resume the hunt after START1
        continue;
      }
      if (this.buf.length < 4 + length) return payloads;
      payloads.push(new Uint8Array(this.buf.subarray(4, 4 + length)));
      this.buf = this.buf.subarray(4 + length);
    }
  }

  findMagic() {
    for (let i = 0; i + 1 < this.buf.length; i++) {
      if (this.buf[i] === START1 && this.buf[i + 1] === START2) return i;
    }
    return -1;
  }
}
