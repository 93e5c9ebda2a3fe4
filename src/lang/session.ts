// A session: the storage images, variables, output settings and workloads
// that a script or the REPL works on, and the way its output leaves.
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { StorageImage } from "../engine/image.js";
import { EngineError } from "../engine/errors.js";
import { imageId, parseImageId } from "../engine/ids.js";
import type { Model } from "../engine/rules.js";
import { WorkloadSet } from "../engine/workload.js";
import { loadState, saveState, isStoreError, type SaveReport } from "../store/index.js";
import { DEFAULT_SETTINGS, type OutputSettings } from "./format.js";
import { LangSyntaxError, ScriptError } from "./errors.js";
import { Interpreter } from "./interpreter.js";
import { parse, type Position, type Program, type Value } from "./parser.js";
import { PlainPresenter } from "./plain-presenter.js";
import { savedLine } from "./state-commands.js";
import type { ProgressPresenter } from "./presenter.js";
import { atArgument, CommandFailure } from "./values.js";

export interface SessionOptions {
  write: (text: string) => void; // one line of output, without its newline
  confirm?: (question: string) => Promise<boolean>;
  presenter?: ProgressPresenter; // default: plain lines through `write`
  cwd?: string; // where relative paths of the REPL and stdin scripts start
  workers?: number; // background-copy workers per storage image
  now?: () => Date; // the clock of banners (tests pin it)
  refreshMs?: number; // how often progress views refresh
  stateFile?: string; // --state: loaded by openState(), saved by `save` and on close()
}

export interface RunOptions {
  signal?: AbortSignal;
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
  private readonly completed = new Map<StorageImage, Set<string>>();
  // The --state file, and whether close() may save to it: never over a file
  // that exists but could not be loaded.
  private stateFile: string | undefined;
  private saveOnClose = false;

  constructor(options: SessionOptions) {
    this.write = options.write;
    this.confirm = options.confirm;
    this.presenter = options.presenter ?? new PlainPresenter(options.write);
    this.cwd = options.cwd ?? process.cwd();
    this.workers = options.workers ?? availableParallelism();
    this.clock = options.now ?? (() => new Date());
    this.refreshMs = options.refreshMs ?? REFRESH_MS;
    this.stateFile = options.stateFile === undefined ? undefined : resolve(this.cwd, options.stateFile);
    this.current = this.addImage("2105", EMBEDDED_IMAGE_ID);
  }

  get stateFilePath(): string | undefined {
    return this.stateFile;
  }

  // Loads the --state file if it exists. "new" when there is none yet (the
  // session starts on its embedded image and saves there on close). Throws
  // the StoreError of a file that exists but cannot be loaded, and then never
  // saves over it.
  async openState(): Promise<"loaded" | "new" | "none"> {
    if (this.stateFile === undefined) return "none";
    try {
      await this.load(this.stateFile);
    } catch (error) {
      if (isStoreError(error) && error.code === "NOT_FOUND") {
        this.saveOnClose = true;
        return "new";
      }
      throw error;
    }
    this.saveOnClose = true;
    return "loaded";
  }

  // Saves every image to `file`, or to the --state file. An abort of
  // `signal` abandons the save (StoreError ABANDONED) and leaves the file as it was.
  async save(file?: string, signal?: AbortSignal): Promise<SaveReport> {
    const target = file === undefined ? this.stateFile : resolve(this.cwd, file);
    if (target === undefined) {
      throw new CommandFailure("NO_STATE_FILE", "save needs a FILE: this session was not started with --state FILE");
    }
    return saveState(this.images, target, { signal });
  }

  // Replaces every image with those of a state file. Workloads stop first
  // (they run on the images being replaced); on any error nothing changes.
  async load(file: string, signal?: AbortSignal): Promise<StorageImage[]> {
    const loaded = await loadState(resolve(this.cwd, file), { workers: this.workers, signal });
    if (loaded.length === 0) {
      throw new EngineError("BAD_ARGUMENT", `state file ${file} holds no storage image`);
    }
    await this.workloads.stopAll();
    const currentId = this.current.id;
    const replaced = this.images.splice(0, this.images.length);
    for (const image of loaded) this.track(image);
    this.current = loaded.find((image) => image.id === currentId) ?? loaded[0];
    for (const image of replaced) this.completed.delete(image);
    await Promise.all(replaced.map((image) => image.close()));
    return loaded;
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
    this.track(image);
    return image;
  }

  private track(image: StorageImage): void {
    const completed = new Set<string>();
    image.on("copied", (relationship: { id: string }) => completed.add(relationship.id));
    this.completed.set(image, completed);
    this.images.push(image);
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

  // Stops workloads, saves to the --state file (when it was opened) and says
  // so, closes the images. A failed save is thrown after the images are
  // closed; an abort of `saveSignal` abandons the save (StoreError ABANDONED,
  // the file as it was before).
  async close(saveSignal?: AbortSignal): Promise<void> {
    await this.workloads.stopAll();
    let failure: unknown = null;
    if (this.saveOnClose) {
      try {
        this.write(savedLine(await this.save(undefined, saveSignal)));
      } catch (error) {
        failure = error;
      }
    }
    await Promise.all(this.images.map((image) => image.close()));
    if (failure !== null) throw failure;
  }
}

export function syntaxScriptError(error: LangSyntaxError, source: string): ScriptError {
  return new ScriptError("syntax", error.code, error.reason, error.file, error.line, error.col, source);
}
