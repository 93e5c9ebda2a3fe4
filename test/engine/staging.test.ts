// Host bytes are staged at their own alignment modulo 8 (src/engine/staging.ts),
// and requests longer than the staging buffer move in chunks that leave room
// for that shift: host writes and a state file's track data alike.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageImage } from "../../src/engine/image.js";
import { writeVolumeTracks } from "../../src/engine/snapshot.js";
import { TRACK_SIZE } from "../../src/core/codes.js";

const MiB = 1 << 20;
// A byte pattern that differs at every shift, so that a misplaced chunk shows.
const backing = Uint8Array.from({ length: 3 * MiB + TRACK_SIZE }, (_, index) => (index * 131 + (index >> 11)) & 0xff);

// Compared without uvu's diff, which takes minutes over megabytes.
const sameBytes = (left: Uint8Array, right: Uint8Array) => Buffer.compare(left, right) === 0;

const Staging = suite("staging the host's bytes");
let image: StorageImage;
Staging.before.each(() => {
  image = new StorageImage({ workers: 0 });
  image.createVolume({ id: "1000", capacity: (4 * MiB) / 512 });
});
Staging.after.each(() => image.close());

Staging("should write the caller's bytes whatever their alignment, in one staging buffer or several", () => {
  for (let shift = 0; shift < 8; shift++) {
    for (const length of [1, 7, 4096 + 5, MiB - 8 - shift, MiB - shift, MiB + 1, 2 * MiB + 13]) {
      const data = backing.subarray(shift, shift + length);
      const offset = (shift * 4099) % MiB;
      image.write("1000", offset, data);
      const read = image.read("1000", offset, length);
      assert.ok(sameBytes(read, data), `shift ${shift}, length ${length}: the bytes read back differ`);
      // The caller's copy: plain memory, not a view of the image's shared memory.
      assert.not.instance(read.buffer, SharedArrayBuffer);
    }
  }
});

Staging("should restore a state file's tracks whatever their alignment, in one staging buffer or several", () => {
  for (let shift = 0; shift < 8; shift++) {
    for (const tracks of [1, 16, 17, 33]) {
      const data = backing.subarray(shift, shift + tracks * TRACK_SIZE);
      const firstTrack = shift * 3;
      writeVolumeTracks(image, "1000", firstTrack, data);
      const read = image.read("1000", firstTrack * TRACK_SIZE, data.byteLength);
      assert.ok(sameBytes(read, data), `shift ${shift}, ${tracks} tracks: the bytes read back differ`);
    }
  }
});

Staging.run();
