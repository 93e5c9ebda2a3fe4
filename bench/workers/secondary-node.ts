// The secondary's node of the link bench (link-peer.ts) and of the link tests
// (test/pprc/fixtures/link-peer.ts), each in its own process: one storage
// image and a link receiver. It prints `hello` as one JSON line, then answers
// JSON lines on stdin, one line each:
//   {"op":"secondary","id":"2000","blocks":N[,"sam":"standard"]}  → {"slot":S}
//       a volume made a PPRC secondary; a standard one (mkfbvol -sam standard)
//       has its extents allocated and its pages touched before the answer
//   {"op":"checksum","id":"2000"}              → {"checksum":"…"}
//   {"op":"counts"}                            → {"applied":A,"refused":R}
//   {"op":"cpu"}                               → {"micros":U}  CPU time of the process so far (every thread)
// It leaves when stdin closes or on SIGTERM.
import { createInterface } from "node:readline";
import { CoreCode } from "../../src/core/codes.js";
import { StorageImage } from "../../src/engine/image.js";
import type { Sam } from "../../src/engine/provision.js";
import { LinkReceiver } from "../../src/pprc/link-receiver.js";

export interface SecondaryNode {
  image: StorageImage;
  receiver: LinkReceiver;
  port: number; // the receiver's
}

// Image `imageId` ("IBM.2107-75LINKB") and its receiver on `port` (0: any free one); exits 3 when it cannot listen.
export async function startSecondaryNode(siteKeyHex: string, imageId: string, port = 0): Promise<SecondaryNode> {
  const [model, serial] = imageId.replace("IBM.", "").split("-");
  const image = new StorageImage({ model: model as "2107", serial, workers: 0 });
  const receiver = new LinkReceiver({
    port, siteKey: new Uint8Array(Buffer.from(siteKeyHex, "hex")), nodeId: `peer-${process.pid}`,
    image: (id) => (id === image.id ? image : undefined), log: (line) => process.stderr.write(`${line}\n`),
  });
  const address = await receiver.start().catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(3);
  });
  return { image, receiver, port: address.port };
}

export function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function answer(node: SecondaryNode, request: { op: string; id?: string; blocks?: number; sam?: Sam }): Promise<unknown> {
  if (request.op === "secondary") {
    const volume = node.image.createVolume({ id: request.id!, capacity: request.blocks!, unit: "blocks", sam: request.sam });
    await node.image.touchVolume(volume.id);
    const code = node.image.core.exports.pprc_make_secondary(volume.slot, 0);
    if (code !== CoreCode.OK) throw new Error(`pprc_make_secondary gave ${code}`);
    return { slot: volume.slot };
  }
  if (request.op === "checksum") return { checksum: node.image.checksum(request.id!) };
  if (request.op === "counts") return node.receiver.counts;
  if (request.op === "cpu") return { micros: cpuMicros() };
  throw new Error(`unknown op ${request.op}`);
}

// Prints `hello`, then answers requests until stdin closes.
export function serveSecondaryNode(node: SecondaryNode, hello: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(hello)}\n`);
  // Answers go out in the order of their requests, each after the one before.
  let answered: Promise<unknown> = Promise.resolve();
  createInterface({ input: process.stdin }).on("line", (line) => {
    answered = answered.then(() => answer(node, JSON.parse(line))).then(
      (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
      (error: Error) => process.stdout.write(`${JSON.stringify({ error: error.message })}\n`),
    );
  });
  process.stdin.on("end", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
}
