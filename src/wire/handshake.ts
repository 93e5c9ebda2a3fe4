// The handshake: both ends send a hello (protocol version, node id, role and
// a fresh random nonce), then each proves it holds the site key with an
// HMAC-SHA256 over both hellos, exactly as they crossed the wire:
//
//   mac = HMAC-SHA256(site key, LABEL ‖ side of the sender ‖ 0x00
//                     ‖ u32 length ‖ dialer's hello payload
//                     ‖ u32 length ‖ acceptor's hello payload)
//
// Both nonces are in the signed bytes, so a proof cannot be replayed on another
// connection; the sender's side is too, so a proof obtained by dialing a node
// cannot be reflected back to it on a connection it accepted. The check uses
// timingSafeEqual, so its time does not reveal how many bytes matched.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { WireError } from "./errors.js";
import { NONCE_BYTES, MAC_BYTES } from "./messages.js";

// Version 2: frames may take the raw layout (codec.ts), and PPRC's link.apply
// carries its tracks as raw bytes. Hellos keep the plain layout, so a peer of
// version 1 still reads one and refuses it as BAD_VERSION.
export const PROTOCOL_VERSION = 2;
export const SITE_KEY_BYTES_MIN = 16;
const LABEL = "tzero-wire proof v1\0";

export type Side = "dialer" | "acceptor";

export function assertSiteKey(siteKey: unknown): asserts siteKey is Uint8Array {
  if (!(siteKey instanceof Uint8Array)) throw new WireError("BAD_ARGUMENT", "a connection needs a site key (a Uint8Array): without one it cannot prove it belongs to the site");
  if (siteKey.byteLength < SITE_KEY_BYTES_MIN) throw new WireError("BAD_ARGUMENT", `site key of ${siteKey.byteLength} bytes is shorter than ${SITE_KEY_BYTES_MIN} bytes`);
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

function lengthPrefix(bytes: Uint8Array): Uint8Array {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, bytes.byteLength);
  return prefix;
}

// The proof that the end on `side` holds `siteKey`, given both hellos' payloads.
export function proofOf(siteKey: Uint8Array, side: Side, dialerHello: Uint8Array, acceptorHello: Uint8Array): Uint8Array {
  const hmac = createHmac("sha256", siteKey);
  hmac.update(LABEL).update(side).update("\0");
  hmac.update(lengthPrefix(dialerHello)).update(dialerHello);
  hmac.update(lengthPrefix(acceptorHello)).update(acceptorHello);
  const mac = new Uint8Array(hmac.digest());
  if (mac.byteLength !== MAC_BYTES) throw new Error(`HMAC-SHA256 gave ${mac.byteLength} bytes, not ${MAC_BYTES}`);
  return mac;
}

export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  // Lengths are fixed by the proof's schema; the check stays for direct callers.
  if (expected.byteLength !== received.byteLength) return false;
  return timingSafeEqual(expected, received);
}
