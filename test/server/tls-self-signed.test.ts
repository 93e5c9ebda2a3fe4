// The self-signed certificate of `tzero serve --tls-self-signed`: made once,
// reused at every later start with the same fingerprint, refused with the
// file named when half there, corrupt or readable by others; and a real
// `tzero serve` that a client reaches over HTTPS with the fingerprint its
// log printed pinned, as Cinder's DS8K driver reaches a DS8000 on 8452.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { X509Certificate } from "node:crypto";
import { chmodSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import { ServeArgumentError } from "../../src/server/http.js";
import { CERT_FILE_NAME, KEY_FILE_NAME, selfSignedCertificate } from "../../src/server/tls-self-signed.js";
import { ServeSandbox } from "../support/serve-process.js";
import { temporaryDirectory } from "../store/support.js";

// An HTTPS request that trusts the server only when its certificate has the pinned SHA-256 fingerprint.
function pinnedRequest(url: string, fingerprint: string, method: string, body?: object): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const outgoing = request(url, { method, agent: false, rejectUnauthorized: false, headers: payload === undefined ? {} : { "content-type": "application/json" } }, (reply) => {
      const seen = (reply.socket as TLSSocket).getPeerCertificate().fingerprint256;
      if (seen !== fingerprint) {
        reply.destroy();
        reject(new Error(`the server's certificate ${seen} is not the pinned ${fingerprint}`));
        return;
      }
      let text = "";
      reply.setEncoding("utf8");
      reply.on("data", (chunk: string) => { text += chunk; });
      reply.on("end", () => resolve({ status: reply.statusCode ?? 0, json: JSON.parse(text) }));
    });
    outgoing.on("error", reject);
    outgoing.end(payload);
  });
}

async function refusal(work: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await work;
    assert.unreachable("accepted");
  } catch (error) {
    assert.instance(error, ServeArgumentError);
    assert.match((error as Error).message, pattern);
  }
}

const Certificate = suite("self-signed TLS certificate");

Certificate("should make a certificate for loopback once and reuse it with the same fingerprint", async () => {
  const folder = temporaryDirectory();
  try {
    const dir = join(folder.path, "tls");
    const first = await selfSignedCertificate(dir, "127.0.0.1");
    assert.ok(first.created);
    const certificate = new X509Certificate(readFileSync(first.certFile));
    assert.is(first.fingerprint256, certificate.fingerprint256);
    assert.match(certificate.subjectAltName ?? "", /DNS:localhost/);
    assert.match(certificate.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
    assert.is(statSync(first.keyFile).mode & 0o777, 0o600);
    const again = await selfSignedCertificate(dir, "127.0.0.1");
    assert.not.ok(again.created);
    assert.is(again.fingerprint256, first.fingerprint256);
  } finally {
    folder.remove();
  }
});

Certificate("should refuse a half-made, corrupt or world-readable pair, naming the file, and leave it as it is", async () => {
  const folder = temporaryDirectory();
  try {
    const dir = join(folder.path, "tls");
    await selfSignedCertificate(dir, "127.0.0.1");
    const key = readFileSync(join(dir, KEY_FILE_NAME));
    unlinkSync(join(dir, CERT_FILE_NAME));
    await refusal(selfSignedCertificate(dir, "127.0.0.1"), /^--tls-dir: .*tls-cert\.pem is missing/);
    assert.equal(readFileSync(join(dir, KEY_FILE_NAME)), key, "the key is left as it was");
    writeFileSync(join(dir, CERT_FILE_NAME), "not a certificate\n");
    await refusal(selfSignedCertificate(dir, "127.0.0.1"), /^--tls-dir: .*tls-cert\.pem does not hold a PEM certificate/);
    chmodSync(join(dir, KEY_FILE_NAME), 0o644);
    await refusal(selfSignedCertificate(dir, "127.0.0.1"), /^--tls-dir: .*tls-key\.pem may be read by others/);
  } finally {
    folder.remove();
  }
});

Certificate("should refuse a key that is not the certificate's", async () => {
  const folder = temporaryDirectory();
  try {
    const first = await selfSignedCertificate(join(folder.path, "a"), "127.0.0.1");
    const second = await selfSignedCertificate(join(folder.path, "b"), "127.0.0.1");
    writeFileSync(first.keyFile, readFileSync(second.keyFile), { mode: 0o600 });
    await refusal(selfSignedCertificate(join(folder.path, "a"), "127.0.0.1"), /is not the key of/);
  } finally {
    folder.remove();
  }
});

Certificate.run();

const Serve = suite("tzero serve --tls-self-signed");

Serve("should serve the REST API over HTTPS with the printed fingerprint, the same after a restart", async () => {
  const sandbox = new ServeSandbox();
  try {
    writeFileSync(sandbox.path("admin.pw"), "Adm1n-tls-pw\n", { mode: 0o600 });
    const args = ["--server-state", sandbox.path("a.server"), "--admin-password-file", sandbox.path("admin.pw"), "--tls-self-signed"];
    const first = sandbox.start(...args);
    const url = await first.listening();
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const fingerprint = /fingerprint (\S+)/.exec(await first.waitFor(/TLS certificate SHA-256 fingerprint /))![1];
    await first.waitFor(/primary Copy Services Server/);
    assert.is(fingerprint, new X509Certificate(readFileSync(join(sandbox.path("a.server"), "tls", CERT_FILE_NAME))).fingerprint256);
    const login = await pinnedRequest(`${url}/api/v1/tokens`, fingerprint, "POST", { request: { params: { username: "admin", password: "Adm1n-tls-pw" } } });
    assert.is(login.status, 200, JSON.stringify(login.json));
    assert.type(login.json.token.token, "string");
    const mispinned = await pinnedRequest(`${url}/api/v1/systems`, "00:11", "GET").then(() => null, (error: Error) => error);
    assert.match(mispinned?.message ?? "", /is not the pinned 00:11/);
    // A URL fastify cannot decode is answered in the REST envelope on the node's own instance too.
    const undecodable = await pinnedRequest(`${url}/api/v1/volumes/%E0%A4%A`, fingerprint, "GET");
    assert.equal([undecodable.status, undecodable.json.server?.status, undecodable.json.server?.code], [400, "failed", "BAD_URL"]);
    assert.is((await first.stop()).code, 0);
    const second = sandbox.start(...args);
    await second.listening();
    assert.match(await second.waitFor(/TLS certificate SHA-256 fingerprint /), new RegExp(fingerprint));
    assert.not.match(second.log, /certificate created/);
  } finally {
    await sandbox.close();
  }
});

Serve.run();
