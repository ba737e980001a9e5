// (d) A client written only with node:net and the official schemas talks to
// `meshgate sim`: wake-up bytes, the want_config_id handshake, a direct
// message with want_ack that must be acknowledged, an admin config read and
// a traceroute whose reply has the documented shape.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FrameReader, Official, frame, meshgateBin } from "../lib.mjs";

const { Mesh, Portnums, Admin } = Official;

// Handshake order from the protocol document; variants not listed (queue
// status, packets, notifications, log records) may come at any time.
const RANK = {
  myInfo: 1, deviceuiConfig: 2, ownNodeInfo: 3, metadata: 4, channel: 5,
  config: 6, moduleConfig: 7, nodeInfo: 8, fileInfo: 9, configCompleteId: 10,
};
const CONFIG_CASES = ["device", "position", "power", "network", "display", "lora", "bluetooth", "security", "sessionkey", "deviceUi"];
const nodeId = (num) => `!${num.toString(16).padStart(8, "0")}`;

// startSim runs the simulator and resolves with its address once it prints
// "listening on HOST:PORT".
function startSim(t) {
  const bin = meshgateBin();
  assert.ok(existsSync(bin), `${bin} does not exist: build it with go build -o bin/meshgate ./cmd/meshgate`);
  const sim = spawn(bin, ["sim", "--listen", "127.0.0.1:0", "--seed", "7", "--nodes", "20"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  t.after(async () => {
    if (sim.exitCode === null && sim.signalCode === null) {
      const exited = new Promise((resolve) => sim.once("exit", resolve));
      sim.kill("SIGTERM");
      if ((await Promise.race([exited.then(() => true), sleep(3000, false, { ref: false })])) === false) sim.kill("SIGKILL");
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 15 s; output:\n${output}`)), 15000);
    const look = (chunk) => {
      output += chunk;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    sim.stdout.setEncoding("utf8").on("data", look);
    sim.stderr.setEncoding("utf8").on("data", (chunk) => { output += chunk; });
    sim.once("error", (err) => { clearTimeout(timer); reject(err); });
    sim.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sim exited early (${code ?? signal}); output:\n${output}`));
    });
  });
}

// Client is a minimal stream client: frames out, decoded FromRadio in.
class Client {
  constructor(socket) {
    this.socket = socket;
    this.reader = new FrameReader();
    this.inbox = [];
    this.waiter = null;
    this.closed = false;
    socket.on("data", (chunk) => {
      for (const payload of this.reader.push(chunk)) {
        this.inbox.push(fromBinary(Mesh.FromRadioSchema, payload));
      }
      this.wake();
    });
    socket.on("close", () => { this.closed = true; this.wake(); });
    socket.on("error", () => {});
  }

  static connect(address) {
    const [host, port] = address.split(":");
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port: Number(port) }, () => resolve(new Client(socket)));
      socket.once("error", reject);
    });
  }

  wake() {
    if (this.waiter) this.waiter();
  }

  send(init) {
    this.socket.write(frame(toBinary(Mesh.ToRadioSchema, create(Mesh.ToRadioSchema, init))));
  }

  // next resolves with the next FromRadio, or rejects at the deadline.
  async next(deadline, what) {
    while (this.inbox.length === 0) {
      if (this.closed) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(timer); resolve(); };
      });
      this.waiter = null;
    }
    return this.inbox.shift();
  }
}

function randomNonce() {
  for (;;) {
    const n = randomInt(1, 0xffffffff);
    if (n !== 69420 && n !== 69421) return n;
  }
}

test("sim: a JS client completes the handshake, gets its DM acknowledged, reads config and traces a route", { timeout: 60000 }, async (t) => {
  const address = await startSim(t);
  const client = await Client.connect(address);
  t.after(() => client.socket.destroy());

  // Wake-up bytes first, as the reference clients do.
  client.socket.write(Buffer.alloc(32, 0xc3));
  await sleep(100);

  const nonce = randomNonce();
  client.send({ payloadVariant: { case: "wantConfigId", value: nonce } });

  const got = { myInfo: [], metadata: [], channel: [], config: [], moduleConfig: [], nodeInfo: [], order: [] };
  let complete = false;
  const handshakeDeadline = Date.now() + 15000;
  while (!complete) {
    const msg = await client.next(handshakeDeadline, `config_complete_id ${nonce}`);
    const { case: kind, value } = msg.payloadVariant;
    if (kind === "configCompleteId") {
      assert.equal(value, nonce, "config_complete_id must echo our nonce");
      complete = true;
    }
    if (kind in got) got[kind].push(value);
    let rank = RANK[kind];
    if (kind === "nodeInfo" && got.myInfo.length && value.num === got.myInfo[0].myNodeNum) rank = RANK.ownNodeInfo;
    if (rank) got.order.push({ kind: rank === RANK.ownNodeInfo ? "ownNodeInfo" : kind, rank });
  }

  // The stream arrives in the documented order.
  assert.equal(got.order[0].kind, "myInfo", "my_info must come first");
  for (let i = 1; i < got.order.length; i++) {
    const [before, now] = [got.order[i - 1], got.order[i]];
    assert.ok(now.rank >= before.rank, `${now.kind} arrived after ${before.kind} (message ${i + 1})`);
  }

  assert.equal(got.myInfo.length, 1, "exactly one my_info");
  const me = got.myInfo[0].myNodeNum;
  assert.ok(me > 0, "my_node_num set");
  assert.equal(got.metadata.length, 1, "exactly one metadata");
  assert.ok(got.metadata[0].firmwareVersion, "metadata carries a firmware version");

  assert.equal(got.channel.length, 8, "8 channels");
  assert.deepEqual(got.channel.map((c) => c.index).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(got.channel.find((c) => c.index === 0).role, Official.Channel.Channel_Role.PRIMARY);

  const configCases = got.config.map((c) => c.payloadVariant.case);
  for (const kind of CONFIG_CASES) assert.ok(configCases.includes(kind), `config ${kind} missing (got ${configCases})`);
  const moduleCases = got.moduleConfig.map((c) => c.payloadVariant.case);
  assert.ok(moduleCases.includes("mqtt"), `module config mqtt missing (got ${moduleCases})`);
  // Module configs newer than the package arrive as unknown fields; a client skips them.
  const newer = got.moduleConfig.filter((c) => !c.payloadVariant.case).flatMap((c) => c.$unknown?.map((u) => u.no) ?? []);
  t.diagnostic(`handshake: ${got.config.length} configs, ${got.moduleConfig.length} module configs ` +
    `(${newer.length ? `fields ${newer.join(", ")} unknown to the package` : "all known to the package"}), ` +
    `${got.nodeInfo.length} node infos, firmware ${got.metadata[0].firmwareVersion}`);

  const own = got.nodeInfo.filter((n) => n.num === me);
  assert.equal(own.length, 1, "exactly one NodeInfo for our own node");
  const others = got.nodeInfo.filter((n) => n.num !== me);
  assert.ok(others.length >= 20, `only ${others.length} other nodes`);
  for (const n of others) assert.equal(n.user?.id, nodeId(n.num), `user id of node ${n.num}`);
  if (got.myInfo[0].nodedbCount) {
    assert.equal(got.nodeInfo.length, got.myInfo[0].nodedbCount, "NodeInfo count vs my_info.nodedb_count");
  }

  // A DM with want_ack to the closest node (preferring one not heard via
  // MQTT) must come back acknowledged.
  const distance = (n) => (n.viaMqtt ? 100 : 0) + (n.hopsAway ?? 50);
  const target = [...others].sort((a, b) => distance(a) - distance(b))[0];
  const id = randomInt(1, 0x7fffffff);
  client.send({ payloadVariant: { case: "packet", value: {
    to: target.num, id, wantAck: true, hopLimit: 3, channel: 0,
    payloadVariant: { case: "decoded", value: {
      portnum: Portnums.PortNum.TEXT_MESSAGE_APP, payload: new TextEncoder().encode("hello from the JS interop test"),
    } },
  } } });

  let queued = false;
  let ack;
  const ackDeadline = Date.now() + 20000;
  while (!ack) {
    const msg = await client.next(ackDeadline, `the ack of packet ${id} to ${nodeId(target.num)}`);
    const { case: kind, value } = msg.payloadVariant;
    if (kind === "queueStatus" && value.meshPacketId === id) queued = true;
    if (kind === "packet" && value.payloadVariant.case === "decoded") {
      const data = value.payloadVariant.value;
      if (data.portnum === Portnums.PortNum.ROUTING_APP && data.requestId === id) ack = { packet: value, data };
    }
  }
  const routing = fromBinary(Mesh.RoutingSchema, ack.data.payload);
  assert.equal(routing.variant.case, "errorReason");
  assert.equal(Mesh.Routing_Error[routing.variant.value], "NONE", "ack error reason");
  assert.equal(ack.packet.from, target.num, "a DM's ack comes from the destination");
  assert.ok(queued, "a queueStatus with mesh_packet_id = our packet id");

  // waitFor reads until a decoded packet answers request id on port.
  const waitFor = async (reqId, port, what) => {
    const deadline = Date.now() + 20000;
    for (;;) {
      const msg = await client.next(deadline, what);
      const { case: kind, value } = msg.payloadVariant;
      if (kind !== "packet" || value.payloadVariant.case !== "decoded") continue;
      const data = value.payloadVariant.value;
      if (data.requestId !== reqId) continue;
      if (data.portnum === port) return { packet: value, data };
      if (data.portnum === Portnums.PortNum.ROUTING_APP) {
        const r = fromBinary(Mesh.RoutingSchema, data.payload);
        if (r.variant.case === "errorReason" && r.variant.value !== 0) {
          throw new Error(`${what}: the radio answered ${Mesh.Routing_Error[r.variant.value]}`);
        }
      }
    }
  };

  // Admin round trip: read the LoRa config of our own radio.
  const adminId = randomInt(1, 0x7fffffff);
  const getLora = create(Admin.AdminMessageSchema, {
    payloadVariant: { case: "getConfigRequest", value: Admin.AdminMessage_ConfigType.LORA_CONFIG },
  });
  client.send({ payloadVariant: { case: "packet", value: {
    to: me, id: adminId, hopLimit: 3, channel: 0,
    payloadVariant: { case: "decoded", value: {
      portnum: Portnums.PortNum.ADMIN_APP, payload: toBinary(Admin.AdminMessageSchema, getLora), wantResponse: true,
    } },
  } } });
  const adminReply = await waitFor(adminId, Portnums.PortNum.ADMIN_APP, "the admin reply");
  const answer = fromBinary(Admin.AdminMessageSchema, adminReply.data.payload);
  assert.equal(answer.payloadVariant.case, "getConfigResponse", "admin answer variant");
  assert.equal(answer.payloadVariant.value.payloadVariant.case, "lora", "a LoRa config came back");
  assert.equal(answer.sessionPasskey.length, 8, "admin answers carry an 8-byte session passkey");
  assert.equal(adminReply.packet.from, me, "admin answers come from our own node");

  // Traceroute: the reply's lists follow the documented shape.
  const traceId = randomInt(1, 0x7fffffff);
  client.send({ payloadVariant: { case: "packet", value: {
    to: target.num, id: traceId, hopLimit: 3, channel: 0, wantAck: true,
    payloadVariant: { case: "decoded", value: { portnum: Portnums.PortNum.TRACEROUTE_APP, wantResponse: true } },
  } } });
  const trace = await waitFor(traceId, Portnums.PortNum.TRACEROUTE_APP, `the traceroute reply from ${nodeId(target.num)}`);
  const route = fromBinary(Mesh.RouteDiscoverySchema, trace.data.payload);
  assert.equal(trace.packet.from, target.num, "the traceroute reply comes from the target");
  assert.equal(route.snrTowards.length, route.route.length + 1, "snr_towards has one more entry than route");
  assert.equal(route.snrBack.length, route.routeBack.length + 1, "snr_back has one more entry than route_back");
  for (const hop of [...route.route, ...route.routeBack]) {
    assert.ok(hop !== me && hop !== target.num, "endpoints never appear inside the lists");
  }
  t.diagnostic(`traceroute to ${nodeId(target.num)}: ${route.route.length} hops there, ${route.routeBack.length} back`);

  client.send({ payloadVariant: { case: "disconnect", value: true } });
  await new Promise((resolve) => client.socket.end(resolve));
});
