// Connections of remote shells: a handshake of hellos alone (no site key),
// and an acceptor that admits only its login types until admitAll().
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connectInProcess } from "../../src/wire/index.js";
import { WireError } from "../../src/wire/errors.js";
import { options, recorder, closesWith } from "./support.js";

const hello = { siteKey: undefined, handshake: "hello" as const };
const Login = suite("wire login mode");

Login("should open two hello-only ends without a site key and carry requests", async () => {
  const [dialer, acceptor] = connectInProcess(options("shell", hello), options("server", hello));
  acceptor.handle("track.write", (body) => ({ sequence: body.sequence, bytes: body.data.byteLength }));
  await Promise.all([dialer.opened, acceptor.opened]);
  assert.equal(await dialer.request("track.write", { volume: "1000", track: 0, sequence: 7n, data: new Uint8Array(3) }), { sequence: 7n, bytes: 3 });
  await dialer.close();
});

Login("should deliver only the admitted types until admitAll(), closing as UNAUTHENTICATED on another", async () => {
  const [dialer, acceptor] = connectInProcess(options("shell", hello), options("server", { ...hello, admitOnly: ["track.write"] }));
  const seen = recorder(acceptor);
  acceptor.handle("track.write", () => ({ sequence: 0n, bytes: 0 }));
  await dialer.opened;
  await dialer.request("track.write", { volume: "1000", track: 0, sequence: 0n, data: new Uint8Array(0) });
  dialer.send("note", { text: "before login", tags: [] });
  const cause = await closesWith(acceptor, "UNAUTHENTICATED");
  assert.match(cause.message, /peer sent "note" before logging in; only track.write may come first/);
  assert.equal(seen, [], "the note was not delivered");
  const told = await dialer.closed;
  assert.is((told as WireError).remoteCode, "UNAUTHENTICATED");
});

Login("should deliver every type once admitAll() lifted the restriction", async () => {
  const [dialer, acceptor] = connectInProcess(options("shell", hello), options("server", { ...hello, admitOnly: ["track.write"] }));
  const seen = recorder(acceptor);
  acceptor.handle("track.write", () => {
    acceptor.admitAll();
    return { sequence: 0n, bytes: 0 };
  });
  await dialer.opened;
  await dialer.request("track.write", { volume: "1000", track: 0, sequence: 0n, data: new Uint8Array(0) });
  dialer.send("note", { text: "logged in", tags: [] });
  await dialer.request("track.write", { volume: "1000", track: 1, sequence: 1n, data: new Uint8Array(0) });
  assert.equal(seen.map((entry) => entry.type), ["note"]);
  await dialer.close();
});

Login("should never open an end that wants the site key to a peer without one", async () => {
  const [dialer, acceptor] = connectInProcess(options("shell", { ...hello, handshakeTimeoutMs: 300 }), options("node", { handshakeTimeoutMs: 300 }));
  let acceptorOpened = false;
  acceptor.on("open", () => { acceptorOpened = true; });
  const [dialerCause] = await Promise.all([dialer.closed, acceptor.closed]);
  assert.is(dialerCause.code, "PROTOCOL_VIOLATION");
  assert.match(dialerCause.message, /peer sent a site key proof on a connection whose handshake takes none/);
  assert.not.ok(acceptorOpened);
});

Login("should still require a site key for the default handshake", () => {
  assert.throws(() => connectInProcess(options("a", { siteKey: undefined }), options("b")), /a connection needs a site key/);
});

Login.run();
