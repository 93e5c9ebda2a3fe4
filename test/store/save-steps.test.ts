// The steps of a save, seen through its file operations (a recording
// StoreFileSystem): the order that makes it crash-safe, the passes that keep
// the quiesced window short, the event loop running meanwhile, and a save
// abandoned at any of its steps leaving the old file and no temporary file.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { StorageImage } from "../../src/engine/image.js";
import { TRACK_SIZE } from "../../src/core/codes.js";
import { saveState, loadState, NODE_FILE_SYSTEM, type StoreFileSystem } from "../../src/store/index.js";
import { describeState, rejectsWithStore, temporaryDirectory, assertSaveFailedCleanly } from "./support.js";

const MiB = 1 << 20;

interface Operation {
  name: "open" | "write" | "fsync" | "close" | "rename" | "unlink";
  path: string; // the file the operation was on (for rename: its source), relative to the folder
  to?: string;
}

// node:fs, recording every operation and calling `before` first (which may throw to fail it).
function recording(folder: string, before: (operation: Operation, count: number) => void = () => undefined): { fileSystem: StoreFileSystem; log: Operation[] } {
  const log: Operation[] = [];
  const paths = new Map<number, string>();
  const name = (path: string) => (path === folder ? "." : basename(path).replace(/\.\d+\.[0-9a-f]{8}\.tmp$/, ".TMP"));
  const record = (operation: Operation) => {
    before(operation, log.filter((each) => each.name === operation.name).length);
    log.push(operation);
  };
  const fileSystem: StoreFileSystem = {
    async open(path, flags) {
      record({ name: "open", path: name(path) });
      const fd = await NODE_FILE_SYSTEM.open(path, flags);
      paths.set(fd, name(path));
      return fd;
    },
    async write(fd, bytes, position) {
      record({ name: "write", path: paths.get(fd)! });
      return NODE_FILE_SYSTEM.write(fd, bytes, position);
    },
    writeSync(fd, bytes, position) {
      record({ name: "write", path: paths.get(fd)! });
      return NODE_FILE_SYSTEM.writeSync(fd, bytes, position);
    },
    read: (fd, bytes, position) => NODE_FILE_SYSTEM.read(fd, bytes, position),
    size: (fd) => NODE_FILE_SYSTEM.size(fd),
    async fsync(fd) {
      record({ name: "fsync", path: paths.get(fd)! });
      return NODE_FILE_SYSTEM.fsync(fd);
    },
    async close(fd) {
      record({ name: "close", path: paths.get(fd)! });
      return NODE_FILE_SYSTEM.close(fd);
    },
    async rename(from, to) {
      record({ name: "rename", path: name(from), to: name(to) });
      return NODE_FILE_SYSTEM.rename(from, to);
    },
    async unlink(path) {
      record({ name: "unlink", path: name(path) });
      return NODE_FILE_SYSTEM.unlink(path);
    },
  };
  return { fileSystem, log };
}

// The log with runs of writes to one file folded into one entry.
function steps(log: readonly Operation[]): string[] {
  const folded: string[] = [];
  for (const operation of log) {
    const text = `${operation.name} ${operation.path}${operation.to ? ` → ${operation.to}` : ""}`;
    if (operation.name === "write" && folded[folded.length - 1] === `${text}…`) continue;
    folded.push(operation.name === "write" ? `${text}…` : text);
  }
  return folded;
}

let folder: ReturnType<typeof temporaryDirectory>;
let image: StorageImage;
let file: string;
const previous = new TextEncoder().encode("the previous state file");

const Steps = suite("the steps of a save");
Steps.before.each(() => {
  folder = temporaryDirectory();
  image = new StorageImage({ workers: 0 });
  image.createVolume({ id: "1000", capacity: 64 * MiB / 512 });
  image.createVolume({ id: "1001", capacity: 64 * MiB / 512 });
  image.writePattern("1000", 0, 48 * MiB, 1);
  image.establish("1000", "1001", { nocopy: true });
  file = join(folder.path, "state.tzs");
  writeFileSync(file, previous);
});
Steps.after.each(async () => {
  await image.close();
  folder.remove();
});

const unchanged = () => assertSaveFailedCleanly(image, folder.path, file, previous);

Steps("should write, fsync the file, rename it over the old one, then fsync the folder", async () => {
  const { fileSystem, log } = recording(folder.path);
  await saveState([image], file, { fileSystem });
  assert.equal(steps(log), [
    "open .state.tzs.TMP", "write .state.tzs.TMP…", "fsync .state.tzs.TMP", "close .state.tzs.TMP",
    "rename .state.tzs.TMP → state.tzs", "open .", "fsync .", "close .",
  ]);
  assert.is(dirname(file), folder.path);
  const [loaded] = await loadState(file, { workers: 0 });
  assert.equal(describeState([loaded]), describeState([image]));
  await loaded.close();
});

Steps("should leave the old file and no temporary file when an fsync or the rename fails", async () => {
  for (const failing of ["fsync", "rename", "write"] as const) {
    const { fileSystem } = recording(folder.path, (operation, count) => {
      if (operation.name === failing && count === (failing === "write" ? 3 : 0)) throw Object.assign(new Error(`injected ${failing} failure`), { code: "EIO" });
    });
    const error = await rejectsWithStore(saveState([image], file, { fileSystem }), "IO_ERROR");
    assert.ok(error.message.includes(`injected ${failing} failure`), error.message);
    unchanged();
  }
});

Steps("should abandon a save at any of its steps, leaving the old file and no temporary file", async () => {
  const probeFolder = temporaryDirectory();
  const probe = recording(probeFolder.path);
  await saveState([image], join(probeFolder.path, "probe.tzs"), { fileSystem: probe.fileSystem });
  probeFolder.remove();
  const writes = probe.log.filter((operation) => operation.name === "write").length;
  // Aborted before writes, before the fsync, and at the close just before the rename.
  const moments: [Operation["name"], number][] = [["write", 0], ["write", 1], ["write", Math.floor(writes / 2)], ["write", writes - 1], ["fsync", 0], ["close", 0]];
  for (const [name, at] of moments) {
    const controller = new AbortController();
    const { fileSystem } = recording(folder.path, (operation, count) => {
      if (operation.name === name && count === at) controller.abort();
    });
    const error = await rejectsWithStore(saveState([image], file, { fileSystem, signal: controller.signal }), "ABANDONED", `aborted at ${name} ${at} of ${writes} writes`);
    assert.ok(error.message.includes("abandoned"), error.message);
    assert.ok(error.message.includes(file), error.message);
    unchanged();
  }
  const aborted = AbortSignal.abort();
  await rejectsWithStore(saveState([image], file, { signal: aborted }), "ABANDONED");
  unchanged();
});

Steps("should complete a save whose signal aborts only once the rename has begun", async () => {
  const controller = new AbortController();
  const { fileSystem } = recording(folder.path, (operation) => {
    if (operation.name === "rename") queueMicrotask(() => controller.abort());
  });
  const report = await saveState([image], file, { fileSystem, signal: controller.signal });
  assert.ok(controller.signal.aborted);
  assert.is(report.bytesWritten, readFileSync(file).byteLength);
});

Steps("should write tracks changed during a pass in another pass while the images run", async () => {
  const { fileSystem } = recording(folder.path, (operation, count) => {
    // Changes between frames of the first pass: 16 MiB of tracks, more than
    // the quiesced pass should take, clearly fewer than the pass wrote.
    if (operation.name === "write" && count === 20) image.writePattern("1000", 8 * MiB, 16 * MiB, 2);
  });
  let expected: unknown;
  const report = await saveState([image], file, { fileSystem, beforeQuiesce: () => { expected = describeState([image]); } });
  assert.ok(report.passes >= 2, `${report.passes} passes`);
  assert.ok(report.changedBytes >= 16 * MiB, `${report.changedBytes} bytes written again`);
  assert.ok(report.frozenBytes < 16 * MiB, `${report.frozenBytes} bytes written quiesced`);
  const [loaded] = await loadState(file, { workers: 0 });
  assert.equal(describeState([loaded]), expected);
  await loaded.close();
});

Steps("should copy tracks that keep changing into memory while the images run, writing every copy in order", async () => {
  // 16 MiB change during the first pass (and as much on the -nocp target,
  // copied on write); while the second writes them, 15 MiB more change (and
  // 15 on the target): too many for the quiesced pass, too many for the file
  // passes to converge on. A memory pass copies them through a copy-out
  // buffer of 2 MiB, which fills and is written out again and again, and ends
  // holding the target's last 2 MiB of them. Those tracks change once more
  // just before the images are quiesced, and the quiesced pass's copies of
  // them, overflowing the buffer, must come after the memory pass's in the file.
  const { fileSystem } = recording(folder.path, (operation, count) => {
    if (operation.name !== "write") return;
    if (count === 20) image.writePattern("1000", 8 * MiB, 16 * MiB, 2);
    if (count === 160) image.writePattern("1000", 24 * MiB, 15 * MiB, 3);
  });
  let expected: unknown;
  const report = await saveState([image], file, {
    fileSystem, copyOutBytesMax: 2 * MiB,
    beforeQuiesce: () => {
      image.writePattern("1001", 36 * MiB, 3 * MiB, 4);
      expected = describeState([image]);
    },
  });
  console.log(`  ${report.passes} file passes, ${report.memoryPasses} memory passes, ${report.frozenBytes} bytes copied quiesced`);
  assert.ok(report.memoryPasses >= 1, `${report.memoryPasses} memory passes`);
  assert.ok(report.frozenBytes >= 3 * MiB, `${report.frozenBytes} bytes copied quiesced`);
  assert.ok(report.frozenBytes < 15 * MiB, `${report.frozenBytes} bytes copied quiesced`);
  const [loaded] = await loadState(file, { workers: 0 });
  assert.equal(describeState([loaded]), expected);
  await loaded.close();
});

Steps("should refuse a copy-out buffer too small for one frame's run, or too large", async () => {
  for (const copyOutBytesMax of [0, 64 * 1024, 1.5, 512 * MiB]) {
    const error = await rejectsWithStore(saveState([image], file, { copyOutBytesMax }), "BAD_ARGUMENT");
    assert.ok(error.message.includes(`copyOutBytesMax ${copyOutBytesMax}`), error.message);
  }
  unchanged();
});

Steps("should let timers run while a save writes", async () => {
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  let ticksAtQuiesce = 0;
  try {
    await saveState([image], file, { beforeQuiesce: () => { ticksAtQuiesce = ticks; } });
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticksAtQuiesce > 0, "a timer fired during the passes beside the running image");
});

Steps("should refuse a second save of an image while one runs", async () => {
  const second = join(folder.path, "second.tzs");
  let refused: Promise<unknown> | undefined;
  await saveState([image], file, { beforeQuiesce: () => { refused = rejectsWithStore(saveState([image], second), "BUSY"); } });
  await refused;
  assert.equal(readdirSync(folder.path), ["state.tzs"]);
  await saveState([image], second); // the first released its claim
});

Steps("should refuse to finish a save when volumes changed while it ran", async () => {
  const changes: [string, () => void][] = [
    ["created", () => image.createVolume({ id: "1002", capacity: 128 })],
    ["removed", () => image.removeVolume("1002")],
  ];
  for (const [what, change] of changes) {
    const error = await rejectsWithStore(saveState([image], file, { beforeQuiesce: change }), "BUSY");
    assert.ok(error.message.includes("volumes were created, removed or changed"), `${what}: ${error.message}`);
    assert.equal(new Uint8Array(readFileSync(file)), previous, `${what}: the previous file is untouched`);
  }
  unchanged();
});

Steps("should save zeros for tracks released by a reinitialisation during the save", async () => {
  image.createVolume({ id: "1002", capacity: 8 * TRACK_SIZE / 512 });
  image.writePattern("1002", 0, 4 * TRACK_SIZE, 3);
  let expected: unknown;
  await saveState([image], file, {
    beforeQuiesce: () => {
      image.reinitVolume("1002");
      expected = describeState([image]);
    },
  });
  const [loaded] = await loadState(file, { workers: 0 });
  assert.equal(describeState([loaded]), expected);
  assert.is(loaded.read("1002", 0, 4 * TRACK_SIZE).some((byte) => byte !== 0), false);
  await loaded.close();
});

Steps.run();
