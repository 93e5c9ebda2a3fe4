// The node's HTTP port: --listen parsing (loopback unless a host is given),
// plugins in their slots, the body bound, TLS, and /cs/node, where only a
// connection that proved the site key reaches the node.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { NodeHttpServer, parseListen, ServeArgumentError } from "../../src/server/http.js";
import { NodeEndpoint, NODE_ENDPOINT_PATH } from "../../src/server/node-endpoint.js";
import { connectWebSocket } from "../../src/wire/websocket.js";
import type { Connection } from "../../src/wire/connection.js";
import type { WireError } from "../../src/wire/errors.js";
import { options, rejectsWith, until, OTHER_KEY, type Messages } from "../wire/support.js";

const quiet = { log: () => {} };

const Listen = suite("serve --listen");

Listen("should bind to 127.0.0.1 unless a host is given, and take IPv6 in brackets", () => {
  assert.equal(parseListen("8452"), { host: "127.0.0.1", port: 8452 });
  assert.equal(parseListen("0"), { host: "127.0.0.1", port: 0 });
  assert.equal(parseListen("0.0.0.0:9000"), { host: "0.0.0.0", port: 9000 });
  assert.equal(parseListen("[::1]:8452"), { host: "::1", port: 8452 });
  assert.equal(parseListen("node-a.example:8452"), { host: "node-a.example", port: 8452 });
});

Listen("should refuse what is not HOST:PORT, naming the flag", () => {
  for (const bad of ["", ":8452", "127.0.0.1:", "127.0.0.1:70000", "http://127.0.0.1:8452", "a b:1"]) {
    try {
      parseListen(bad);
      assert.unreachable(`accepted "${bad}"`);
    } catch (error) {
      assert.instance(error, ServeArgumentError);
      assert.match((error as Error).message, /^--listen: /);
    }
  }
});

Listen.run();

const Http = suite("node HTTP server");

Http("should serve its plugins on one port, bound to loopback, and refuse a body above the bound", async () => {
  const plugin = async (app: any) => {
    app.post("/api/v1/echo", async (request: any) => ({ size: JSON.stringify(request.body).length }));
  };
  const server = await NodeHttpServer.start({ ...quiet, listen: parseListen("0"), bodyBytesMax: 1024 }, { plugins: [{ name: "echo", plugin }] });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.is(server.address.host, "127.0.0.1");
    const small = await fetch(`${server.url}/api/v1/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: 1 }) });
    assert.is(small.status, 200);
    const big = await fetch(`${server.url}/api/v1/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: "x".repeat(2000) }) });
    assert.is(big.status, 413, "a body above the bound is refused");
  } finally {
    await server.close();
  }
});

Http("should refuse a port in use, naming --listen", async () => {
  const first = await NodeHttpServer.start({ ...quiet, listen: parseListen("0") }, { plugins: [] });
  try {
    await NodeHttpServer.start({ ...quiet, listen: { host: "127.0.0.1", port: first.address.port } }, { plugins: [] });
    assert.unreachable("listened twice on one port");
  } catch (error) {
    assert.instance(error, ServeArgumentError);
    assert.match((error as Error).message, /^--listen: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  } finally {
    await first.close();
  }
});

// A self-signed certificate for 127.0.0.1, made once for the tests (valid for a century).
const FIXTURES = fileURLToPath(new URL("../../../test/server/fixtures/", import.meta.url));
const TLS = { certFile: join(FIXTURES, "tls-cert.pem"), keyFile: join(FIXTURES, "tls-key.pem") };

Http("should serve HTTPS with --tls-cert and --tls-key, and name a missing file's flag", async () => {
  const server = await NodeHttpServer.start({ ...quiet, listen: parseListen("0"), tls: TLS }, { plugins: [] });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(server.websocketUrl("/cs/node"), /^wss:\/\/127\.0\.0\.1:\d+\/cs\/node$/);
  } finally {
    await server.close();
  }
  try {
    await NodeHttpServer.start({ ...quiet, listen: parseListen("0"), tls: { ...TLS, certFile: join(FIXTURES, "none.pem") } }, { plugins: [] });
    assert.unreachable("started without its certificate");
  } catch (error) {
    assert.match((error as Error).message, /^--tls-cert: cannot read .*none\.pem: ENOENT/);
  }
});

Http("should hand /cs/node connections to the node only once they proved the site key", async () => {
  const accepted: Connection<Messages>[] = [];
  const refused: WireError[] = [];
  const endpoint = new NodeEndpoint<Messages>({
    connectionOptions: options("server"),
    accept: (connection) => {
      connection.handle("track.write", (body) => ({ sequence: body.sequence, bytes: 0 }));
      accepted.push(connection);
    },
    refused: (cause) => refused.push(cause),
  });
  const server = await NodeHttpServer.start({ ...quiet, listen: parseListen("0") }, { plugins: [{ name: "node", plugin: endpoint.plugin }] });
  try {
    const url = server.websocketUrl(NODE_ENDPOINT_PATH);
    await rejectsWith(connectWebSocket({ ...options("intruder", { siteKey: OTHER_KEY }), url }), "AUTH_FAILED");
    const raw = new WebSocket(url);
    raw.on("error", () => {});
    await new Promise((resolve) => raw.once("open", resolve));
    raw.send(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
    await new Promise((resolve) => raw.once("close", resolve));
    await until(() => refused.length === 2, "both refused");
    assert.equal(refused.map((cause) => cause.code).sort(), ["AUTH_FAILED", "FRAME_TOO_LARGE"]);
    assert.is(accepted.length, 0, "neither reached the node");
    const member = await connectWebSocket({ ...options("member"), url });
    assert.equal(await member.request("track.write", { volume: "1000", track: 0, sequence: 5n, data: new Uint8Array(1) }), { sequence: 5n, bytes: 0 });
    assert.is(accepted.length, 1);
    await endpoint.close();
    assert.is((await member.closed).code, "PEER_CLOSED", "closing the endpoint tells the node why");
  } finally {
    await server.close();
  }
});

Http.run();
