// A session: the storage images, variables, output settings and workloads
// that a script or the REPL works on, and the way its output leaves.
import { availableParallelism } from "node:os";
import { StorageImage } from "../engine/image.js";
import { EngineError } from "../engine/errors.js";
import { imageId, parseImageId } from "../engine/ids.js";
import type { Model } from "../engine/rules.js";
import { WorkloadSet } from "../engine/workload.js";
import { DEFAULT_SETTINGS, type OutputSettings } from "./format.js";
import { LangSyntaxError, ScriptError } from "./errors.js";
import { Interpreter } from "./interpreter.js";
import { parse, type Position, type Program, type Value } from "./parser.js";
import { PlainPresenter } from "./plain-presenter.js";
import type { ProgressPresenter } from "./presenter.js";
import { atArgument } from "./values.js";

export interface SessionOptions {
  write: (text: string) => void; // one line of output, without its newline
  confirm?: (question: string) => Promise<boolean>;
  presenter?: ProgressPresenter; // default: plain lines through `write`
  cwd?: string; // where relative paths of the REPL and stdin scripts start
  workers?: number; // background-copy workers per storage image
  now?: () => Date; // the clock of banners (tests pin it)
  refreshMs?: number; // how often progress views refresh
}

export interface RunOptions {
  signal?: AbortSignal;
}

export interface VolumeNote {
  extpool: string;
}

export const EMBEDDED_IMAGE_ID = "IBM.2105-75TZ001";
const REFRESH_MS = 1000;

export class Session {
  readonly images: StorageImage[] = []; // in the order they were added
  readonly workloads = new WorkloadSet();
  readonly settings: OutputSettings = { ...DEFAULT_SETTINGS };
  readonly variables = new Map<string, Value>();
  readonly write: (text: string) => void;
  readonly confirm?: (question: string) => Promise<boolean>;
  readonly presenter: ProgressPresenter;
  readonly cwd: string;
  readonly refreshMs: number;
  quitRequested = false; // `quit` or `exit` ran
  private current: StorageImage;
  private readonly workers: number;
  private readonly clock: () => Date;
  private readonly notes = new Map<StorageImage, Map<string, VolumeNote>>();
  private readonly completed = new Map<StorageImage, Set<string>>();

  constructor(options: SessionOptions) {
    this.write = options.write;
    this.confirm = options.confirm;
    this.presenter = options.presenter ?? new PlainPresenter(options.write);
    this.cwd = options.cwd ?? process.cwd();
    this.workers = options.workers ?? availableParallelism();
    this.clock = options.now ?? (() => new Date());
    this.refreshMs = options.refreshMs ?? REFRESH_MS;
    this.current = this.addImage("2105", EMBEDDED_IMAGE_ID);
  }

  get currentImage(): StorageImage {
    return this.current;
  }

  now(): Date {
    return this.clock();
  }

  findImage(text: string): StorageImage {
    const { model, serial } = parseImageId(text);
    const id = imageId(model, serial);
    const image = this.images.find((candidate) => candidate.id === id);
    if (!image) throw new EngineError("IMAGE_NOT_FOUND", `storage image ${id} does not exist (lssi lists them; mksi adds one)`);
    return image;
  }

  selectImage(idText: string): void {
    this.current = this.findImage(idText);
  }

  // Adds a storage image: by ID, or the next free serial of a model.
  addImage(model?: Model, idText?: string, at?: Position): StorageImage {
    let id: string;
    let chosenModel: Model;
    if (idText === undefined) {
      chosenModel = model ?? "2105";
      let number = this.images.length + 1;
      while (this.images.some((image) => image.id.endsWith(`-75TZ${String(number).padStart(3, "0")}`))) number++;
      id = imageId(chosenModel, `75TZ${String(number).padStart(3, "0")}`);
    } else {
      const parts = at === undefined ? parseImageId(idText) : atArgument(at, () => parseImageId(idText));
      if (model !== undefined && model !== parts.model) {
        throw new EngineError("BAD_MODEL", `storage image ${idText} is a ${parts.model}, not a ${model}`);
      }
      chosenModel = parts.model;
      id = imageId(parts.model, parts.serial);
    }
    if (this.images.some((image) => image.id === id)) throw new EngineError("IMAGE_EXISTS", `storage image ${id} already exists`);
    const image = new StorageImage({ model: chosenModel, serial: id.slice(id.indexOf("-") + 1), workers: this.workers });
    const completed = new Set<string>();
    image.on("copied", (relationship: { id: string }) => completed.add(relationship.id));
    this.completed.set(image, completed);
    this.images.push(image);
    return image;
  }

  volumeNotes(image: StorageImage): Map<string, VolumeNote> {
    let notes = this.notes.get(image);
    if (!notes) {
      notes = new Map();
      this.notes.set(image, notes);
    }
    return notes;
  }

  // Of the given pairs, those still in the image. A pair whose background copy
  // completed (and so ended) is done; a pair never seen is an error.
  pendingPairs(image: StorageImage, ids: string[]): string[] {
    const completed = this.completed.get(image) ?? new Set<string>();
    const pending: string[] = [];
    for (const id of ids) {
      if (image.hasRelationship(id)) pending.push(id);
      else if (!completed.has(id)) image.relationship(id);
    }
    return pending;
  }

  watchCopies(image: StorageImage, pairs: string[], signal: AbortSignal): Promise<void> {
    return this.presenter.watch({
      image, pairs, workloads: () => this.workloads.stats(), until: "copied", signal, refreshMs: this.refreshMs,
    });
  }

  run(program: Program, options: RunOptions = {}): Promise<void> {
    return new Interpreter(this, options.signal ?? new AbortController().signal).run(program);
  }

  // Parses and runs source text; a syntax error becomes a ScriptError of kind "syntax".
  async runSource(source: string, file: string, options: RunOptions = {}): Promise<void> {
    let program: Program;
    try {
      program = parse(source, file);
    } catch (error) {
      if (error instanceof LangSyntaxError) throw syntaxScriptError(error, source);
      throw error;
    }
    await this.run(program, options);
  }

  async close(): Promise<void> {
    await this.workloads.stopAll();
    await Promise.all(this.images.map((image) => image.close()));
  }
}

export function syntaxScriptError(error: LangSyntaxError, source: string): ScriptError {
  return new ScriptError("syntax", error.code, error.reason, error.file, error.line, error.col, source);
}
