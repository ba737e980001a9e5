// (b) Messages encoded by our Go types decode with the official schemas to the
// same values, and leave no unknown field anywhere in the message tree.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fromBinary, toJson } from "@bufbuild/protobuf";
import { fromHex, normalizeJson, officialRegistry, readCorpus, unknownFields } from "../lib.mjs";

const registry = officialRegistry();
const corpus = readCorpus("go-corpus.json");
const byName = new Map(corpus.map((e) => [e.name, e]));

function decode(entry) {
  const schema = registry.getMessage(entry.type);
  assert.ok(schema, `the official package has no ${entry.type}`);
  return { schema, message: fromBinary(schema, fromHex(entry.hex)) };
}

describe("go → js", () => {
  test("the corpus covers the client API", (t) => {
    t.diagnostic(`${corpus.length} Go-encoded messages`);
    const types = new Set(corpus.map((e) => e.type));
    for (const type of ["ToRadio", "FromRadio", "AdminMessage", "Routing", "RouteDiscovery", "Telemetry", "ServiceEnvelope"]) {
      assert.ok(types.has(`meshtastic.${type}`), `no ${type} in the corpus`);
    }
    assert.equal(byName.size, corpus.length, "entry names must be unique");
  });

  for (const entry of corpus) {
    test(entry.name, () => {
      const { schema, message } = decode(entry);
      assert.deepEqual(unknownFields(message), [], "unknown fields after decoding");
      const theirs = normalizeJson(schema, toJson(schema, message));
      const ours = normalizeJson(schema, entry.json);
      assert.deepEqual(theirs, ours);
    });
  }

  test("a zero enum inside a oneof is still on the wire", () => {
    const entry = byName.get("AdminMessage get_config_request DEVICE_CONFIG");
    assert.equal(entry.hex, "2800");
    const { message } = decode(entry);
    assert.deepEqual(message.payloadVariant, { case: "getConfigRequest", value: 0 });
    const mqtt = decode(byName.get("AdminMessage get_module_config_request MQTT_CONFIG")).message;
    assert.deepEqual(mqtt.payloadVariant, { case: "getModuleConfigRequest", value: 0 });
  });

  test("negative SNRs are 10-byte varints and unknown hops survive", () => {
    const entry = byName.get("RouteDiscovery with negative SNRs and unknown hops");
    assert.match(entry.hex, /ecffffffffffffffff01/, "-20 as a plain int32 varint");
    const { message } = decode(entry);
    assert.deepEqual(message.snrTowards, [-20, -128, 23]);
    assert.deepEqual(message.route.slice(1), [0xffffffff]);
    assert.deepEqual(message.routeBack.slice(0, 1), [0xffffffff]);
  });

  test("the worked byte examples of the protocol document", () => {
    assert.equal(byName.get("ToRadio want_config_id").hex, "18b960");
    assert.equal(byName.get("ToRadio heartbeat").hex, "3a00");
    assert.equal(byName.get("ToRadio disconnect").hex, "2001");
  });
});
