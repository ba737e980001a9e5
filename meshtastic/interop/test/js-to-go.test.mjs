// (c) Messages built and encoded with the official schemas, for the Go side to
// decode with our types (`gocorpus -check`, run by `make interop` afterwards).
// This file writes js-corpus.json: hex bytes plus the official toJson output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { Official, toHex, writeCorpus } from "../lib.mjs";

const { Admin, Channel, Config, Mesh, ModuleConfig, Mqtt, Portnums, Telemetry } = Official;
const { PortNum } = Portnums;

const MY_NODE = 0x1234abcd;
const OTHER = 0x0badc0de;
const BROADCAST = 0xffffffff;
const bytes = (n, from) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
const utf8 = (s) => new TextEncoder().encode(s);

const entries = [];

// add encodes a message; returns its bytes so it can be nested as a payload.
function add(name, schema, init) {
  const message = create(schema, init);
  const raw = toBinary(schema, message);
  entries.push({ name, type: schema.typeName, hex: toHex(raw), json: toJson(schema, message), schema });
  return raw;
}

const packet = (init) => ({ payloadVariant: { case: "packet", value: create(Mesh.MeshPacketSchema, init) } });
const decoded = (init) => ({ case: "decoded", value: create(Mesh.DataSchema, init) });
const admin = (name, id, init) =>
  add(`ToRadio admin ${name}`, Mesh.ToRadioSchema, packet({
    to: MY_NODE, id, hopLimit: 3, wantAck: true,
    payloadVariant: decoded({
      portnum: PortNum.ADMIN_APP, wantResponse: true,
      payload: add(`AdminMessage ${name}`, Admin.AdminMessageSchema, init),
    }),
  }));

// --- client to radio ---
add("ToRadio want_config_id", Mesh.ToRadioSchema, { payloadVariant: { case: "wantConfigId", value: 0xdeadbeef } });
add("ToRadio heartbeat", Mesh.ToRadioSchema, { payloadVariant: { case: "heartbeat", value: {} } });
add("ToRadio mqttClientProxyMessage", Mesh.ToRadioSchema, {
  payloadVariant: { case: "mqttClientProxyMessage", value: {
    topic: "msh/EU_868/2/e/LongFast/!0badc0de", payloadVariant: { case: "data", value: bytes(40, 0x90) }, retained: true,
  } },
});
add("ToRadio text DM", Mesh.ToRadioSchema, packet({
  to: OTHER, channel: 3, id: 0x80000001, hopLimit: 7, wantAck: true,
  priority: Mesh.MeshPacket_Priority.RELIABLE,
  payloadVariant: decoded({ portnum: PortNum.TEXT_MESSAGE_APP, payload: utf8("héllo 🌍"), replyId: 0x0badcafe }),
}));

admin("set_config lora", 0x601, {
  sessionPasskey: bytes(8, 0x11),
  payloadVariant: { case: "setConfig", value: { payloadVariant: { case: "lora", value: {
    usePreset: true, modemPreset: Config.Config_LoRaConfig_ModemPreset.LONG_MODERATE,
    region: Config.Config_LoRaConfig_RegionCode.ANZ, hopLimit: 4, txEnabled: true, txPower: -3,
    frequencyOffset: 0.1, overrideFrequency: 916.125, ignoreIncoming: [1, OTHER, 0xfffffffe],
    ignoreMqtt: true,
  } } } },
});
admin("set_config power", 0x602, {
  payloadVariant: { case: "setConfig", value: { payloadVariant: { case: "power", value: {
    isPowerSaving: true, onBatteryShutdownAfterSecs: 3600, adcMultiplierOverride: 2.37,
    lsSecs: 300, powermonEnables: (1n << 63n) + 5n,
  } } } },
});
admin("set_config security", 0x603, {
  payloadVariant: { case: "setConfig", value: { payloadVariant: { case: "security", value: {
    publicKey: bytes(32, 0x30), adminKey: [bytes(32, 0x50), bytes(32, 0xf0)], serialEnabled: true,
    adminChannelEnabled: true,
  } } } },
});
admin("set_owner", 0x604, {
  payloadVariant: { case: "setOwner", value: {
    id: "!1234abcd", longName: "Gateway Ωmega", shortName: "GWΩ", isLicensed: true,
    role: Config.Config_DeviceConfig_Role.CLIENT_BASE, isUnmessagable: false,
  } },
});
admin("set_channel", 0x605, {
  payloadVariant: { case: "setChannel", value: {
    index: 2, role: Channel.Channel_Role.SECONDARY,
    settings: { psk: bytes(16, 0xa0), name: "ops", uplinkEnabled: true, moduleSettings: { positionPrecision: 32 } },
  } },
});
admin("set_fixed_position", 0x606, {
  payloadVariant: { case: "setFixedPosition", value: {
    latitudeI: -339000000, longitudeI: -700000000, altitude: -5, altitudeHae: -33,
    altitudeGeoidalSeparation: 28, time: 1767225600,
  } },
});
admin("get_module_config_request MQTT_CONFIG", 0x607, {
  payloadVariant: { case: "getModuleConfigRequest", value: Admin.AdminMessage_ModuleConfigType.MQTT_CONFIG },
});
admin("shutdown_seconds -1 (cancel)", 0x608, { payloadVariant: { case: "shutdownSeconds", value: -1 } });
admin("set_module_config neighbor_info", 0x609, {
  payloadVariant: { case: "setModuleConfig", value: { payloadVariant: { case: "neighborInfo", value: {
    enabled: true, updateInterval: 14400, transmitOverLora: true,
  } } } },
});

// --- radio to client ---
add("FromRadio node_info", Mesh.FromRadioSchema, { payloadVariant: { case: "nodeInfo", value: {
  num: OTHER, snr: -12.75, lastHeard: 1767225000, hopsAway: 0, channel: 1,
  user: { id: "!0badc0de", longName: "Ridge", shortName: "RDG", hwModel: Mesh.HardwareModel.T_ECHO,
    role: Config.Config_DeviceConfig_Role.ROUTER, publicKey: bytes(32, 0x77) },
  position: { latitudeI: 473769000, longitudeI: 85417000, altitude: 520, precisionBits: 32 },
  deviceMetrics: { batteryLevel: 0, voltage: 3.3, channelUtilization: 0, airUtilTx: 0.125, uptimeSeconds: 12 },
} } });
add("FromRadio log_record", Mesh.FromRadioSchema, { payloadVariant: { case: "logRecord", value: {
  message: "Router: sending ack", time: 1767225600, source: "Router", level: Mesh.LogRecord_Level.DEBUG,
} } });
add("FromRadio fileInfo", Mesh.FromRadioSchema, { payloadVariant: { case: "fileInfo", value: {
  fileName: "/prefs/db.proto", sizeBytes: 8123,
} } });
add("FromRadio clientNotification key verification", Mesh.FromRadioSchema, {
  payloadVariant: { case: "clientNotification", value: {
    replyId: 0, level: Mesh.LogRecord_Level.INFO, message: "verify",
    payloadVariant: { case: "keyVerificationNumberInform", value: {
      nonce: 0xfedcba9876543210n, remoteLongname: "Ridge", securityNumber: 123456,
    } },
  } },
});
add("Telemetry environment_metrics", Telemetry.TelemetrySchema, {
  time: 1767225700,
  variant: { case: "environmentMetrics", value: {
    temperature: -4.5, relativeHumidity: 81.2, barometricPressure: 1013.25, iaq: 42, windDirection: 270,
  } },
});
add("Telemetry local_stats", Telemetry.TelemetrySchema, {
  variant: { case: "localStats", value: {
    uptimeSeconds: 99, channelUtilization: 3.75, numPacketsTx: 12, numPacketsRx: 340, numOnlineNodes: 21,
    numTotalNodes: 40, noiseFloor: -106,
  } },
});
add("NeighborInfo", Mesh.NeighborInfoSchema, {
  nodeId: OTHER, lastSentById: MY_NODE, nodeBroadcastIntervalSecs: 900,
  neighbors: [{ nodeId: MY_NODE, snr: 6.5, lastRxTime: 1767225000 }, { nodeId: 0x42, snr: -18 }],
});
add("Waypoint", Mesh.WaypointSchema, {
  id: 77, latitudeI: 515000000, longitudeI: -1270000, expire: 1767312000, name: "camp", description: "tents",
  icon: 0x1f3d5,
});
add("RouteDiscovery", Mesh.RouteDiscoverySchema, {
  route: [0xffffffff, OTHER], snrTowards: [-128, -37, 40], routeBack: [OTHER], snrBack: [-1, -2],
});
const routing = add("Routing error_reason NO_RESPONSE", Mesh.RoutingSchema, {
  variant: { case: "errorReason", value: Mesh.Routing_Error.NO_RESPONSE },
});
add("FromRadio routing packet", Mesh.FromRadioSchema, packet({
  from: MY_NODE, to: MY_NODE, id: 0x70000001, rxTime: 1767225800, priority: Mesh.MeshPacket_Priority.ACK,
  payloadVariant: decoded({ portnum: PortNum.ROUTING_APP, payload: routing, requestId: 0x80000001 }),
}));
add("MapReport", Mqtt.MapReportSchema, {
  longName: "Ridge", shortName: "RDG", role: Config.Config_DeviceConfig_Role.ROUTER,
  hwModel: Mesh.HardwareModel.RAK4631, firmwareVersion: "2.7.15", region: Config.Config_LoRaConfig_RegionCode.EU_868,
  modemPreset: Config.Config_LoRaConfig_ModemPreset.LONG_FAST, hasDefaultChannel: true,
  latitudeI: -473769000, longitudeI: 85417000, altitude: -20, positionPrecision: 14, numOnlineLocalNodes: 7,
});
add("ServiceEnvelope PKI", Mqtt.ServiceEnvelopeSchema, {
  channelId: "PKI", gatewayId: "!1234abcd",
  packet: { from: OTHER, to: MY_NODE, id: 0x70000002, hopLimit: 3, hopStart: 3, pkiEncrypted: true,
    publicKey: bytes(32, 0x01), viaMqtt: true, transportMechanism: Mesh.MeshPacket_TransportMechanism.TRANSPORT_MQTT,
    payloadVariant: { case: "encrypted", value: bytes(48, 0x94) } },
});
add("ModuleConfig mqtt", ModuleConfig.ModuleConfigSchema, { payloadVariant: { case: "mqtt", value: {
  enabled: true, root: "msh/ANZ", mapReportingEnabled: true, mapReportSettings: { publishIntervalSecs: 900 },
} } });

test("js → go: every official message survives its own round trip", (t) => {
  // Floats are narrowed to 32 bits by the first encoding, so compare bytes.
  for (const { name, schema, hex } of entries) {
    const again = toBinary(schema, fromBinary(schema, Buffer.from(hex, "hex")));
    assert.equal(toHex(again), hex, name);
  }
  assert.equal(new Set(entries.map((e) => e.name)).size, entries.length, "entry names must be unique");
  writeCorpus("js-corpus.json", entries.map(({ name, type, hex, json }) => ({ name, type, hex, json })));
  t.diagnostic(`${entries.length} JS-encoded messages written for the Go check`);
});
