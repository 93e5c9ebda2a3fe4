// A node's self-signed TLS certificate (design.md §7, issue 12): made at its
// first start with --tls-self-signed, kept in a folder (--tls-dir, default
// DIR/tls of the server's state), and reused at every later start, so its
// SHA-256 fingerprint, which the log prints, stays what clients pinned.
// Cinder's DS8K driver talks HTTPS only; it and curl can pin or trust it.
//
// The folder holds tls-cert.pem and tls-key.pem (mode 0600). A pair that is
// half there, unreadable, mismatched or expired is refused with the file
// named, never replaced silently: clients pinned the old one.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";
import { ServeArgumentError, type TlsFiles } from "./http.js";

export const CERT_FILE_NAME = "tls-cert.pem";
export const KEY_FILE_NAME = "tls-key.pem";
// 825 days: the longest validity that browsers and TLS libraries accept for a server certificate.
const VALIDITY_DAYS = 825;
const DAY_MS = 86_400_000;
const FLAG = "--tls-dir";

export interface SelfSigned extends TlsFiles {
  fingerprint256: string; // "39:09:EC:..." as openssl and node print it
  created: boolean;
}

function reason(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new ServeArgumentError(FLAG, `cannot read ${file}: ${reason(error)}`);
  }
}

// The folder's certificate, made first when there is none. `host` is the
// address the node listens on: it goes into the certificate's names beside localhost.
export async function selfSignedCertificate(dir: string, host: string, now = new Date()): Promise<SelfSigned> {
  const certFile = join(dir, CERT_FILE_NAME);
  const keyFile = join(dir, KEY_FILE_NAME);
  const [certThere, keyThere] = [await exists(certFile), await exists(keyFile)];
  if (certThere !== keyThere) {
    const missing = certThere ? keyFile : certFile;
    throw new ServeArgumentError(FLAG, `${missing} is missing beside ${certThere ? certFile : keyFile}: remove the other too to make a new certificate`);
  }
  const created = !certThere;
  if (created) await createPair(dir, certFile, keyFile, host, now);
  return { certFile, keyFile, fingerprint256: await checkPair(certFile, keyFile, now), created };
}

// Checks that the files hold a certificate and its key, valid now; returns its fingerprint.
async function checkPair(certFile: string, keyFile: string, now: Date): Promise<string> {
  const info = await stat(keyFile);
  if ((info.mode & 0o077) !== 0) throw new ServeArgumentError(FLAG, `${keyFile} may be read by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(await readFile(certFile));
  } catch (error) {
    throw new ServeArgumentError(FLAG, `${certFile} does not hold a PEM certificate: ${reason(error)}`);
  }
  let key;
  try {
    key = createPrivateKey(await readFile(keyFile));
  } catch (error) {
    throw new ServeArgumentError(FLAG, `${keyFile} does not hold a PEM private key: ${reason(error)}`);
  }
  if (!certificate.checkPrivateKey(key)) throw new ServeArgumentError(FLAG, `${keyFile} is not the key of ${certFile}`);
  if (new Date(certificate.validTo).getTime() <= now.getTime()) {
    throw new ServeArgumentError(FLAG, `${certFile} expired on ${certificate.validTo}: remove both files to make a new certificate`);
  }
  return certificate.fingerprint256;
}

async function createPair(dir: string, certFile: string, keyFile: string, host: string, now: Date): Promise<void> {
  const made = await generate([{ name: "commonName", value: "tzero" }, { name: "organizationName", value: "tzero Copy Services" }], {
    keyType: "ec", curve: "P-256", algorithm: "sha256",
    notBeforeDate: new Date(now.getTime() - DAY_MS), notAfterDate: new Date(now.getTime() + VALIDITY_DAYS * DAY_MS),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: altNames(host) },
    ],
  });
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // The key first: a crash between the two renames leaves a key without a certificate, which the next start names.
    await writeNew(keyFile, made.private, 0o600);
    await writeNew(certFile, made.cert, 0o644);
  } catch (error) {
    throw new ServeArgumentError(FLAG, `cannot create the certificate in ${dir}: ${reason(error)}`);
  }
}

type AltName = { type: 2; value: string } | { type: 7; ip: string };

function altNames(host: string): AltName[] {
  const names: AltName[] = [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }, { type: 7, ip: "::1" }];
  const wildcard = host === "0.0.0.0" || host === "::";
  if (wildcard || host === "localhost" || host === "127.0.0.1" || host === "::1") return names;
  names.push(isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host });
  return names;
}

// Written to a temporary name, fsynced and renamed: the file is whole or absent.
async function writeNew(file: string, text: string, mode: number): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(temporary, file);
}
