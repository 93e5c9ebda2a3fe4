// Tab completion for the shell, driven by the command table (src/lang/commands.ts)
// that also drives validation and `help`: command names, subcommands, each
// command's options, and the value an option or operand takes (volume IDs of
// the current image, pair IDs of its relationships, file names, enum values).
import { readdirSync, type Dirent } from "node:fs";
import { resolve } from "node:path";
import {
  COMMANDS, findCommand, findOption, findSubcommand, type CommandSpec, type ValueKind,
} from "../lang/commands.js";
import type { Site } from "../site/site.js";

// The current image as completion sees it: fetched from the site at each Tab.
export interface CompletionInventory {
  model: string;
  volumes: Array<{ id: string; lss: string; blocks: number }>;
  relationships: Array<{ id: string; sourceId: string; targetId: string }>;
  lss: string[];
}

export async function inventoryOf(site: Site, imageId: string): Promise<CompletionInventory> {
  const [images, volumes, relationships, lss] = await Promise.all([
    site.listImages(), site.listVolumes(imageId), site.listFlash(imageId), site.listLss(imageId),
  ]);
  return { model: images.find((image) => image.id === imageId)?.model ?? "2105", volumes, relationships, lss: lss.map((entry) => entry.id) };
}

// What completion may offer besides the table: the session's state, read at each Tab.
export interface CompletionContext {
  image: () => CompletionInventory | undefined;
  imageIds: () => string[];
  workloadNames: () => string[];
  cwd: () => string;
}

export type Completion = [hits: string[], word: string];

// Commands whose pair operands name relationships to create, not existing ones.
const ESTABLISHING_COMMANDS = new Set(["mkflash"]);
// Characters that end a statement or open a nested one: completion starts afresh after them.
const STATEMENT_BREAK = /[;{}(]/;
const FILE_ENTRIES_MAX = 500;

export function complete(line: string, context: CompletionContext): Completion {
  const segment = line.slice(lastIndexOf(line, STATEMENT_BREAK) + 1);
  const words = segment.split(/\s+/).filter((word, index, all) => word !== "" || index === all.length - 1);
  const word = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  const at = before.findIndex((candidate) => {
    const spec = findCommand(candidate);
    return spec !== undefined && spec.statement !== true;
  });
  if (at < 0) return finish(word.startsWith("-") || word.startsWith("$") ? [] : commandNames(word), word);
  let spec = findCommand(before[at]) as CommandSpec;
  let rest = before.slice(at + 1);
  if (spec.subcommands) {
    if (rest.length === 0) return finish(prefixed(spec.subcommands.map((sub) => sub.name), word), word);
    const sub = findSubcommand(spec, rest[0]);
    if (!sub) return [[], word];
    spec = sub;
    rest = rest.slice(1);
  }
  return finish(completeArgument(spec, rest, word, context), word);
}

function completeArgument(spec: CommandSpec, before: string[], word: string, context: CompletionContext): string[] {
  const previous = before.at(-1);
  const pending = previous?.startsWith("-") ? findOption(spec, previous.slice(1)) : undefined;
  if (pending?.kind !== undefined) return values(pending.kind, pending.values ?? [], spec, word, context);
  if (word.startsWith("-")) {
    const used = new Set(before.filter((text) => text.startsWith("-")).map((text) => text.slice(1).toLowerCase()));
    return prefixed(spec.options.filter((option) => !used.has(option.name)).map((option) => `-${option.name}`), word);
  }
  const operand = spec.operands[Math.min(operandIndex(spec, before), spec.operands.length - 1)];
  const consumed = operandIndex(spec, before) >= spec.operands.length && operand?.repeat !== true;
  if (!operand || consumed) return [];
  return values(operand.kind, [], spec, word, context);
}

// How many operands precede the word: the words that are neither options nor their values.
function operandIndex(spec: CommandSpec, before: string[]): number {
  let count = 0;
  for (let index = 0; index < before.length; index++) {
    const text = before[index];
    if (text.startsWith("-") && !/^-\d/.test(text)) {
      if (findOption(spec, text.slice(1))?.kind !== undefined) index++;
      continue;
    }
    count++;
  }
  return count;
}

function values(kind: ValueKind, enumValues: readonly string[], spec: CommandSpec, word: string, context: CompletionContext): string[] {
  const image = context.image();
  const volumeIds = image?.volumes.map((volume) => volume.id) ?? [];
  const pairIds = image?.relationships.map((relationship) => relationship.id) ?? [];
  switch (kind) {
    case "volume":
      return hex(volumeIds, word);
    case "volumes":
      return volumeOrRange(volumeIds, word);
    case "pairs":
      return ESTABLISHING_COMMANDS.has(spec.parent ?? spec.name) && image ? newPair(image, word) : hex(pairIds, word);
    case "volumes-or-pairs":
      return hex([...volumeIds, ...pairIds], word);
    case "lss":
      return hex(image?.lss ?? [], word);
    case "image":
      return prefixed(context.imageIds(), word);
    case "enum":
      return prefixed([...enumValues], word);
    case "pattern":
      return prefixed(["random"], word);
    case "name":
      return prefixed(context.workloadNames(), word);
    case "command":
      return commandNames(word);
    case "file":
      return fileNames(context.cwd(), word);
    default:
      return [];
  }
}

// `1000-` completes the end of a range within the same LSS, after its start.
function volumeOrRange(volumeIds: string[], word: string): string[] {
  const range = /^([0-9A-Fa-f]{4})-(.*)$/.exec(word);
  if (!range) return hex(volumeIds, word);
  const start = range[1].toUpperCase();
  const ends = volumeIds.filter((id) => id.slice(0, 2) === start.slice(0, 2) && id > start);
  return hex(ends, range[2]).map((end) => `${range[1]}-${end}`);
}

// mkflash SOURCE:TARGET: first a source that is in no relationship, then a
// target other than it, no smaller, and on a 2105 in the same LSS (the seed's rules).
function newPair(image: CompletionInventory, word: string): string[] {
  const volumes = image.volumes;
  const busy = new Set(image.relationships.flatMap((relationship) => [relationship.sourceId, relationship.targetId]));
  const free = volumes.filter((volume) => !busy.has(volume.id));
  const colon = word.indexOf(":");
  if (colon < 0) return hex(free.map((volume) => volume.id), word).map((id) => `${id}:`);
  const sourceId = word.slice(0, colon).toUpperCase();
  const source = volumes.find((volume) => volume.id === sourceId);
  const targets = free.filter((volume) => volume.id !== sourceId
    && (source === undefined || (volume.blocks >= source.blocks && (image.model !== "2105" || volume.lss === source.lss))));
  return hex(targets.map((volume) => volume.id), word.slice(colon + 1)).map((target) => `${word.slice(0, colon)}:${target}`);
}

// Hex IDs match whatever the case typed; the hit keeps the typed prefix as it was.
function hex(ids: string[], word: string): string[] {
  const upper = word.toUpperCase();
  return ids.filter((id) => id.startsWith(upper)).map((id) => word + id.slice(word.length));
}

function commandNames(word: string): string[] {
  return prefixed(COMMANDS.map((spec) => spec.name), word.toLowerCase()).map((name) => word + name.slice(word.length));
}

function prefixed(candidates: string[], word: string): string[] {
  return [...new Set(candidates)].filter((candidate) => candidate.startsWith(word));
}

function fileNames(cwd: string, word: string): string[] {
  const slash = word.lastIndexOf("/");
  const folderText = slash < 0 ? "" : word.slice(0, slash + 1);
  const namePrefix = word.slice(slash + 1);
  let entries: Dirent[];
  try {
    entries = readdirSync(resolve(cwd, folderText === "" ? "." : folderText), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((entry) => entry.name.startsWith(namePrefix) && (namePrefix.startsWith(".") || !entry.name.startsWith(".")))
    .slice(0, FILE_ENTRIES_MAX)
    .map((entry) => `${folderText}${entry.name}${entry.isDirectory() ? "/" : ""}`)
    .sort();
}

// One hit is taken whole: a space follows it, unless it continues (a folder, a pair's source).
function finish(hits: string[], word: string): Completion {
  if (hits.length === 1 && !/[/:]$/.test(hits[0])) return [[`${hits[0]} `], word];
  return [hits, word];
}

function lastIndexOf(text: string, pattern: RegExp): number {
  for (let index = text.length - 1; index >= 0; index--) if (pattern.test(text[index])) return index;
  return -1;
}
