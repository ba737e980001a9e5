// (a) Our schemas and the official package's agree wherever both describe the
// same thing: field numbers, wire types, message/enum type names, repeated-ness
// and packing, and enum value numbers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ScalarType } from "@bufbuild/protobuf";
import { officialRegistry, ourRegistry } from "../lib.mjs";

const official = officialRegistry();
const ours = ourRegistry();

// What decides how a field looks on the wire, as a comparable string.
function wireShape(field) {
  const single = (kind, scalar, desc) =>
    kind === "scalar" ? ScalarType[scalar].toLowerCase() : `${kind} ${desc.typeName}`;
  switch (field.fieldKind) {
    case "list": {
      const elem = single(field.listKind, field.scalar, field.message ?? field.enum);
      const packable = field.listKind === "enum" ||
        (field.listKind === "scalar" && field.scalar !== ScalarType.STRING && field.scalar !== ScalarType.BYTES);
      return `repeated ${elem}${packable ? (field.packed ? " packed" : " unpacked") : ""}`;
    }
    case "map":
      return `map<${ScalarType[field.mapKey].toLowerCase()}, ${single(field.mapKind, field.scalar, field.message ?? field.enum)}>`;
    default:
      return single(field.fieldKind, field.scalar, field.message ?? field.enum);
  }
}

const presenceName = (field) => (field.presence === 1 ? "explicit" : "implicit");

function compare() {
  const r = {
    messages: 0, fields: 0, enums: 0, values: 0,
    conflicts: [], missingTypes: [], missingFields: [], missingValues: [],
    oursOnlyFields: [], oursOnlyValues: [], presence: [],
  };
  for (const type of official) {
    if (type.kind === "message") {
      const mine = ours.getMessage(type.typeName);
      if (!mine) {
        r.missingTypes.push(type.typeName);
        continue;
      }
      r.messages++;
      for (const theirs of type.fields) {
        const where = `${type.typeName}.${theirs.name}`;
        const field = mine.fields.find((f) => f.name === theirs.name);
        if (!field) {
          const clash = mine.fields.find((f) => f.number === theirs.number);
          if (clash) r.conflicts.push(`${where} = ${theirs.number}: our field ${clash.name} has that number`);
          else r.missingFields.push(`${where} = ${theirs.number} (${wireShape(theirs)})`);
          continue;
        }
        r.fields++;
        if (field.number !== theirs.number) {
          r.conflicts.push(`${where}: number ${field.number} in ours, ${theirs.number} official`);
        }
        if (wireShape(field) !== wireShape(theirs)) {
          r.conflicts.push(`${where}: "${wireShape(field)}" in ours, "${wireShape(theirs)}" official`);
        }
        if (Boolean(field.oneof) !== Boolean(theirs.oneof)) {
          r.conflicts.push(`${where}: oneof member in ${field.oneof ? "ours" : "official"} only`);
        } else if (field.presence !== theirs.presence) {
          r.presence.push(`${where}: ${presenceName(field)} presence in ours, ${presenceName(theirs)} official`);
        }
      }
      for (const field of mine.fields) {
        if (!type.fields.some((f) => f.name === field.name || f.number === field.number)) {
          r.oursOnlyFields.push(`${type.typeName}.${field.name} = ${field.number}`);
        }
      }
    } else if (type.kind === "enum") {
      const mine = ours.getEnum(type.typeName);
      if (!mine) {
        r.missingTypes.push(type.typeName);
        continue;
      }
      r.enums++;
      for (const theirs of type.values) {
        const value = mine.values.find((v) => v.name === theirs.name);
        if (!value) {
          const alias = mine.values.find((v) => v.number === theirs.number);
          r.missingValues.push(`${type.typeName}.${theirs.name} = ${theirs.number}` +
            (alias ? ` (ours calls ${theirs.number} ${alias.name})` : ""));
          continue;
        }
        r.values++;
        if (value.number !== theirs.number) {
          r.conflicts.push(`${type.typeName}.${theirs.name}: ${value.number} in ours, ${theirs.number} official`);
        }
      }
      const newer = [];
      for (const value of mine.values) {
        if (!type.values.some((v) => v.name === value.name || v.number === value.number)) {
          newer.push(`${value.name}=${value.number}`);
        }
      }
      if (newer.length) r.oursOnlyValues.push(`${type.typeName}: ${newer.join(" ")}`);
    }
  }
  return r;
}

const result = compare();

test("schemas: every field and enum value present in both has the same wire meaning", (t) => {
  const info = (title, list) => {
    t.diagnostic(`${title}: ${list.length}`);
    for (const line of list) t.diagnostic(`  ${line}`);
  };
  t.diagnostic(`compared ${result.messages} messages with ${result.fields} fields, ` +
    `${result.enums} enums with ${result.values} values`);
  info("official fields our schemas lack", result.missingFields);
  info("official enum values our schemas lack", result.missingValues);
  info("official messages/enums our schemas lack", result.missingTypes);
  info("presence differences (same bytes on the wire)", result.presence);
  info("our fields newer than the package", result.oursOnlyFields);
  info("our enum values newer than the package", result.oursOnlyValues);
  assert.deepEqual(result.conflicts, [], "conflicting definitions");
});

test("schemas: the client API messages are all covered", () => {
  for (const name of [
    "meshtastic.ToRadio", "meshtastic.FromRadio", "meshtastic.MeshPacket", "meshtastic.Data",
    "meshtastic.AdminMessage", "meshtastic.Config", "meshtastic.ModuleConfig", "meshtastic.Channel",
    "meshtastic.NodeInfo", "meshtastic.User", "meshtastic.Position", "meshtastic.MyNodeInfo",
    "meshtastic.Routing", "meshtastic.RouteDiscovery", "meshtastic.Telemetry", "meshtastic.ServiceEnvelope",
  ]) {
    assert.ok(official.getMessage(name), `${name} missing from the official package`);
    assert.ok(ours.getMessage(name), `${name} missing from our schemas`);
  }
  assert.ok(result.fields > 500, `only ${result.fields} fields compared`);
  assert.ok(result.values > 300, `only ${result.values} enum values compared`);
});
