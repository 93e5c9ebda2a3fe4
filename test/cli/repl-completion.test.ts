// Tab completion from the command table and the current image's state.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageImage } from "../../src/engine/image.js";
import { complete, type CompletionContext, type CompletionInventory } from "../../src/cli/repl-completion.js";

// What the shell fetches from its site at each Tab, read here straight from the engine's image.
function inventory(of: StorageImage): CompletionInventory {
  return { model: of.model, volumes: of.listVolumes(), relationships: of.listRelationships(), lss: of.listLss() };
}

const Completion = suite("completion");
let image: StorageImage;
let folder: string;
let context: CompletionContext;
Completion.before.each(() => {
  image = new StorageImage({ workers: 0 });
  for (const id of ["1000", "1001", "1002", "10A0", "2000"]) image.createVolume({ id, capacity: 128 });
  image.establish("1000", "1001", { nocopy: true });
  folder = mkdtempSync(join(tmpdir(), "tzero-completion-"));
  writeFileSync(join(folder, "backup.raw"), "");
  writeFileSync(join(folder, "base.tz"), "");
  writeFileSync(join(folder, ".hidden"), "");
  mkdirSync(join(folder, "scripts"));
  writeFileSync(join(folder, "scripts", "refresh.tz"), "");
  context = {
    image: () => inventory(image),
    imageIds: () => [image.id, "IBM.2107-75TZ002"],
    workloadNames: () => ["oltp", "batch"],
    cwd: () => folder,
  };
});
Completion.after.each(async () => {
  rmSync(folder, { recursive: true, force: true });
  await image.close();
});

Completion("should complete command names from the table", () => {
  // Every command that starts with "mk", the table's order kept (others join the table as features land).
  const [names, word] = complete("mk", context);
  assert.is(word, "mk");
  assert.ok(names.every((name) => name.startsWith("mk")), names.join(" "));
  for (const name of ["mkfbvol", "mkextpool", "mksi", "mkflash", "mkuser"]) assert.ok(names.includes(name), `${name} is offered for "mk"`);
  assert.ok(names.indexOf("mkfbvol") < names.indexOf("mkflash"), "in the table's order");
  assert.equal(complete("lsfl", context), [["lsflash "], "lsfl"]);
  assert.equal(complete("", context)[0].length > 20, true);
});
Completion("should complete a command after let, expect error and inside a block", () => {
  assert.equal(complete("let t0 = check", context), [["checksum "], "check"]);
  assert.equal(complete("expect error mkfl", context), [["mkflash "], "mkfl"]);
  assert.equal(complete("repeat 3 { rmfb", context), [["rmfbvol "], "rmfb"]);
  assert.equal(complete("assert (lsfl", context), [["lsflash "], "lsfl"]);
});
Completion("should complete a command's options, leaving out ones already given", () => {
  assert.equal(complete("mkflash -n", context), [["-nocp "], "-n"]);
  assert.equal(complete("mkfbvol -cap 1 -", context)[0], ["-type", "-name", "-os", "-extpool", "-sam", "-eam", "-dev"]);
  assert.equal(complete("rmflash -q", context), [["-quiet "], "-q"]);
});
Completion("should complete enum values of an option", () => {
  assert.equal(complete("mkfbvol -type ", context), [["ds", "ess", "blocks"], ""]);
  assert.equal(complete("lsfbvol -fmt st", context), [["stanza "], "st"]);
});
Completion("should complete volume IDs of the current image, in any case typed", () => {
  assert.equal(complete("showfbvol 10", context), [["1000", "1001", "1002", "10A0"], "10"]);
  assert.equal(complete("showfbvol 10a", context), [["10a0 "], "10a"]);
  assert.equal(complete("workload start oltp -vol 20", context), [["2000 "], "20"]);
});
Completion("should complete the end of a volume range within its LSS", () => {
  assert.equal(complete("rmfbvol 1000-10", context), [["1000-1001", "1000-1002", "1000-10A0"], "1000-10"]);
});
Completion("should complete pair IDs of existing relationships for rmflash", () => {
  assert.equal(complete("rmflash 1", context), [["1000:1001 "], "1"]);
  assert.equal(complete("rmflash -quiet 10", context), [["1000:1001 "], "10"]);
  assert.equal(complete("lsflash 100", context), [["1000", "1001", "1002", "1000:1001"], "100"]);
});
Completion("should complete new pairs for mkflash from volumes in no relationship", () => {
  assert.equal(complete("mkflash 10", context), [["1002:", "10A0:"], "10"]);
  // A 2105 copies within one LSS, so 2000 is no target for 1002.
  assert.equal(complete("mkflash -nocp 1002:", context), [["1002:10A0 "], "1002:"]);
  assert.equal(complete("mkflash 1002:10", context), [["1002:10A0 "], "1002:10"]);
});
Completion("should offer no target smaller than the source", () => {
  image.createVolume({ id: "1003", capacity: 256 });
  image.createVolume({ id: "1004", capacity: 64 });
  assert.equal(complete("mkflash 1002:10", context), [["1002:1003", "1002:10A0"], "1002:10"]);
  assert.equal(complete("mkflash 1003:10", context), [[], "1003:10"]);
});
Completion("should complete file names for file operands, with folders", () => {
  assert.equal(complete("source ba", context), [["backup.raw", "base.tz"], "ba"]);
  assert.equal(complete("source sc", context), [["scripts/"], "sc"]);
  assert.equal(complete("source scripts/r", context), [["scripts/refresh.tz "], "scripts/r"]);
  assert.equal(complete("import 1000 backup", context), [["backup.raw "], "backup"]);
});
Completion("should complete subcommands, workload names and images", () => {
  assert.equal(complete("workload s", context), [["start", "stop"], "s"]);
  assert.equal(complete("workload stop o", context), [["oltp "], "o"]);
  assert.equal(complete("lsfbvol -dev IBM.2107", context), [["IBM.2107-75TZ002 "], "IBM.2107"]);
  assert.equal(complete("help mkf", context), [["mkfbvol", "mkflash"], "mkf"]);
});
Completion("should offer nothing where the table has no choice to offer", () => {
  assert.equal(complete("mkfbvol -cap ", context), [[], ""]);
  assert.equal(complete("showfbvol 1000 ", context), [[], ""]);
  assert.equal(complete("nosuchcommand 10", context), [[], "10"]);
});
Completion.run();
