// A session: what a script or the REPL keeps on its own side of the site
// (variables, output settings, the current storage image, how its output
// leaves), and the Site its commands work on.
import { hostIoSampler } from "./host-io.js";
import { resolve } from "node:path";
import { EmbeddedSite, EMBEDDED_IMAGE_ID } from "../site/embedded.js";
import { isSiteError } from "../site/errors.js";
import type { Site } from "../site/site.js";
import type { ImageInfo, LoadReport, ModelName, SaveReport } from "../site/types.js";
import { EngineError, imageId, parseImageId } from "../site/shared.js";
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
  workers?: number; // background-copy workers per storage image of the default embedded site
  site?: Site; // default: an EmbeddedSite with one 2105 image, EMBEDDED_IMAGE_ID
  imageId?: string; // the current image at start (default EMBEDDED_IMAGE_ID)
  now?: () => Date; // the clock of banners (tests pin it)
  refreshMs?: number; // how often progress views refresh
  stateFile?: string; // --state: loaded by openState(), saved by `save` and on close()
  // The site outlives the session (a Copy Services Server's, reached by -hmc1):
  // close() leaves its workloads running and only lets go of the site.
  siteShared?: boolean;
}

export interface RunOptions {
  signal?: AbortSignal;
}

export { EMBEDDED_IMAGE_ID };
const REFRESH_MS = 1000;

export class Session {
  readonly site: Site;
  readonly settings: OutputSettings = { ...DEFAULT_SETTINGS };
  readonly variables = new Map<string, Value>();
  readonly write: (text: string) => void;
  readonly confirm?: (question: string) => Promise<boolean>;
  readonly presenter: ProgressPresenter;
  readonly cwd: string;
  readonly refreshMs: number;
  quitRequested = false; // `quit` or `exit` ran
  private current: string;
  private readonly clock: () => Date;
  // The --state file, and whether close() may save to it: never over a file
  // that exists but could not be loaded.
  private stateFile: string | undefined;
  private saveOnClose = false;
  private readonly siteShared: boolean;

  constructor(options: SessionOptions) {
    this.write = options.write;
    this.confirm = options.confirm;
    this.presenter = options.presenter ?? new PlainPresenter(options.write);
    this.cwd = options.cwd ?? process.cwd();
    this.clock = options.now ?? (() => new Date());
    this.refreshMs = options.refreshMs ?? REFRESH_MS;
    this.stateFile = options.stateFile === undefined ? undefined : resolve(this.cwd, options.stateFile);
    this.site = options.site ?? new EmbeddedSite({ workers: options.workers });
    this.current = options.imageId ?? EMBEDDED_IMAGE_ID;
    this.siteShared = options.siteShared ?? false;
  }

  get stateFilePath(): string | undefined {
    return this.stateFile;
  }

  // Loads the --state file if it exists. "new" when there is none yet (the
  // session starts on its embedded image and saves there on close). Throws
  // the error (code NOT_FOUND, TRUNCATED, ...) of a file that exists but
  // cannot be loaded, and then never saves over it.
  async openState(): Promise<"loaded" | "new" | "none"> {
    if (this.stateFile === undefined) return "none";
    try {
      await this.load(this.stateFile);
    } catch (error) {
      if (isSiteError(error) && error.code === "NOT_FOUND") {
        this.saveOnClose = true;
        return "new";
      }
      throw error;
    }
    this.saveOnClose = true;
    return "loaded";
  }

  // Saves every image to `file`, or to the --state file. An abort of
  // `signal` abandons the save (code ABANDONED) and leaves the file as it was.
  async save(file?: string, signal?: AbortSignal): Promise<SaveReport> {
    const target = file === undefined ? this.stateFile : resolve(this.cwd, file);
    if (target === undefined) {
      throw new CommandFailure("NO_STATE_FILE", "save needs a FILE: this session was not started with --state FILE");
    }
    return this.site.save(target, { signal });
  }

  // Replaces every image with those of a state file; the current image stays
  // current when the file has it. On any error nothing changes.
  async load(file: string, signal?: AbortSignal): Promise<LoadReport> {
    const report = await this.site.load(resolve(this.cwd, file), { signal });
    const ids = report.images.map((image) => image.id);
    if (!ids.includes(this.current)) this.current = ids[0];
    return report;
  }

  get currentImageId(): string {
    return this.current;
  }

  // The current image among `images`; the first when it is gone.
  currentIn(images: readonly ImageInfo[]): ImageInfo {
    const image = images.find((candidate) => candidate.id === this.current) ?? images[0];
    if (!image) throw new EngineError("IMAGE_NOT_FOUND", "the site has no storage image (mksi adds one)");
    return image;
  }

  async currentImage(): Promise<ImageInfo> {
    return this.currentIn(await this.site.listImages());
  }

  now(): Date {
    return this.clock();
  }

  // The image an ID names among `images`, in any of the spellings DS CLI accepts.
  findIn(images: readonly ImageInfo[], text: string): ImageInfo {
    const { model, serial } = parseImageId(text);
    const id = imageId(model, serial);
    const image = images.find((candidate) => candidate.id === id);
    if (!image) throw new EngineError("IMAGE_NOT_FOUND", `storage image ${id} does not exist (lssi lists them; mksi adds one)`);
    return image;
  }

  async findImage(text: string): Promise<ImageInfo> {
    return this.findIn(await this.site.listImages(), text);
  }

  async selectImage(idText: string): Promise<void> {
    this.current = (await this.findImage(idText)).id;
  }

  // Adds a storage image: by ID, or the next free serial of a model.
  async addImage(model?: ModelName, idText?: string, at?: Position): Promise<ImageInfo> {
    if (idText === undefined) return this.site.addImage({ model: model ?? "2105" });
    const parts = at === undefined ? parseImageId(idText) : atArgument(at, () => parseImageId(idText));
    if (model !== undefined && model !== parts.model) {
      throw new EngineError("BAD_MODEL", `storage image ${idText} is a ${parts.model}, not a ${model}`);
    }
    return this.site.addImage({ id: imageId(parts.model, parts.serial) });
  }

  watchCopies(imageId: string, pairs: string[], signal: AbortSignal): Promise<void> {
    return this.presenter.watch({
      site: this.site, imageId, pairs, workloads: () => this.workloadStats(), hosts: hostIoSampler(this.site, imageId), until: "copied", signal, refreshMs: this.refreshMs,
    });
  }

  // The live view of PPRC pairs' Copy Pending (wait pprc, mkpprc -wait) until they are in sync.
  watchMirrors(imageId: string, mirrors: string[], signal: AbortSignal): Promise<void> {
    return this.presenter.watch({
      site: this.site, imageId, pairs: [], mirrors, workloads: () => this.workloadStats(), until: "copied", signal, refreshMs: this.refreshMs,
    });
  }

  async workloadStats() {
    return (await this.site.listWorkloads()).map((workload) => workload.stats);
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

  // Saves to the --state file (when it was opened) and says so, then closes
  // the site (its workloads stop first, unless the site is shared). A failed save is thrown after the
  // site is closed; an abort of `saveSignal` abandons the save (code
  // ABANDONED, the file as it was before).
  async close(saveSignal?: AbortSignal): Promise<void> {
    if (!this.siteShared) await this.site.stopWorkloads();
    let failure: unknown = null;
    if (this.saveOnClose) {
      try {
        this.write(savedLine(await this.save(undefined, saveSignal)));
      } catch (error) {
        failure = error;
      }
    }
    await this.site.close();
    if (failure !== null) throw failure;
  }
}

export function syntaxScriptError(error: LangSyntaxError, source: string): ScriptError {
  return new ScriptError("syntax", error.code, error.reason, error.file, error.line, error.col, source);
}
