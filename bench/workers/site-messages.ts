// The messages of the Site RPC bench: every Site RPC message, and one bare
// request/reply of the same size class (a call number out, a few volume IDs
// back) that no Site stands behind, the floor the RPC is measured against.
import { Type } from "@sinclair/typebox";
import { siteMessageSpecs } from "../../src/site/protocol.js";
import { defineMessages } from "../../src/wire/index.js";

export const SITE_BENCH_KEY = new Uint8Array(32).fill(0x3c);
export const SITE_BENCH_VOLUMES = ["1000", "1001", "1002", "1003"];

export const siteBenchMessages = defineMessages({
  ...siteMessageSpecs,
  "bench.echo": { body: Type.Object({ call: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }), reply: "bench.echoed" },
  "bench.echoed": {
    body: Type.Object({ call: Type.Integer({ minimum: 1 }), ids: Type.Array(Type.String({ maxLength: 8 }), { maxItems: 16 }) }, { additionalProperties: false }),
  },
});
