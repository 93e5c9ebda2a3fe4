// The secondary's node of the link bench, in its own process: a storage image
// with a link receiver, beside a bare TCP server answering each 4096-byte
// request with an 8-byte ack and a bare sink counting a stream (the
// baselines, between the same two processes). Prints its three ports as one
// JSON line, then answers JSON lines on stdin:
//   {"op":"secondary","id":"2000","blocks":N} → {"slot":S}   a volume made a PPRC secondary
//   {"op":"checksum","id":"2000"}             → {"checksum":"…"}
// argv[2] is the site key in hex. Leaves when stdin closes or on SIGTERM.
import { createInterface } from "node:readline";
import { CoreCode } from "../../src/core/codes.js";
import { StorageImage } from "../../src/engine/image.js";
import { LinkReceiver } from "../../src/pprc/link-receiver.js";
import { listenBare } from "./bare-servers.js";

const siteKey = new Uint8Array(Buffer.from(process.argv[2], "hex"));
const image = new StorageImage({ model: "2107", serial: "75LBENCHB", workers: 0 });
const receiver = new LinkReceiver({ siteKey, nodeId: `link-bench-peer-${process.pid}`, image: (id) => (id === image.id ? image : undefined), log: (line) => process.stderr.write(`${line}\n`) });



function answer(request: { op: string; id?: string; blocks?: number }): unknown {
  if (request.op === "secondary") {
    const volume = image.createVolume({ id: request.id!, capacity: request.blocks!, unit: "blocks" });
    const code = image.core.exports.pprc_make_secondary(volume.slot, 0);
    if (code !== CoreCode.OK) throw new Error(`pprc_make_secondary gave ${code}`);
    return { slot: volume.slot };
  }
  if (request.op === "checksum") return { checksum: image.checksum(request.id!) };
  throw new Error(`unknown op ${request.op}`);
}

const ports = { link: (await receiver.start()).port, ...(await listenBare()) };
process.stdout.write(`${JSON.stringify(ports)}\n`);
createInterface({ input: process.stdin }).on("line", (line) => {
  try {
    process.stdout.write(`${JSON.stringify(answer(JSON.parse(line)))}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
  }
});
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
