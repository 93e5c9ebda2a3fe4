// The site key (design.md §7): 32 random bytes that every node of a site
// holds, so that only the site's nodes pass the wire handshake. The primary
// makes the file at its first start when it is missing; a joining node must
// be given a copy. The file holds the key as 64 hex digits and a newline, and
// is refused when others than its owner may read it, as ssh refuses a key.
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { ServeArgumentError } from "./http.js";

export const SITE_KEY_FILE_BYTES = 32;
const FLAG = "--site-key-file";

function reason(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

// Reads the key; when the file is missing and `create` is set, makes it (mode 0600).
export async function loadSiteKey(file: string, options: { create: boolean }): Promise<{ key: Uint8Array; created: boolean }> {
  let text: string;
  try {
    const info = await stat(file);
    if ((info.mode & 0o077) !== 0) throw new ServeArgumentError(FLAG, `${file} may be read by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
    text = await readFile(file, "utf8");
  } catch (error) {
    if (error instanceof ServeArgumentError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new ServeArgumentError(FLAG, `cannot read ${file}: ${reason(error)}`);
    if (!options.create) throw new ServeArgumentError(FLAG, `${file} does not exist: a node that joins needs a copy of the primary's site key file`);
    return { key: await createSiteKey(file), created: true };
  }
  const match = /^([0-9a-f]{64})\n?$/i.exec(text);
  if (match === null) throw new ServeArgumentError(FLAG, `${file} does not hold a site key (64 hex digits)`);
  return { key: new Uint8Array(Buffer.from(match[1], "hex")), created: false };
}

async function createSiteKey(file: string): Promise<Uint8Array> {
  const key = new Uint8Array(randomBytes(SITE_KEY_FILE_BYTES));
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // "wx": never over a file another process made meanwhile; fsync so that a crash leaves the key or nothing.
    const handle = await open(file, "wx", 0o600);
    try {
      await handle.writeFile(`${Buffer.from(key).toString("hex")}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new ServeArgumentError(FLAG, `cannot create ${file}: ${reason(error)}`);
  }
  return key;
}
