// What a command implementation sees: its evaluated options and operands
// with their positions, the session, its site, and helpers for listings,
// images and the positions of what a site call refused.
import type { ImageInfo, Site } from "../site/index.js";
import { isSiteError } from "../site/errors.js";
import { EngineError, imageQualifiers, qualifiedId } from "../site/shared.js";
import type { CommandNode, Position, Value } from "./parser.js";
import { atArgument, CommandFailure, formatValue } from "./values.js";
import { bannerLine, formatListing, type Listing, type OutputFormat, type OutputSettings } from "./format.js";
import type { Session } from "./session.js";

export interface CommandResult {
  lines: string[]; // what it prints as a statement
  value: Value; // what it is as a value
}

export interface EvaluatedOption {
  value: Value | true; // true for a flag
  at: Position;
}

export class CommandContext {
  constructor(
    readonly session: Session,
    readonly node: CommandNode,
    readonly options: ReadonlyMap<string, EvaluatedOption>,
    readonly operands: ReadonlyArray<{ value: Value; at: Position }>,
    readonly signal: AbortSignal,
    readonly dir: string, // the running script's folder: relative paths start here
  ) {}

  get name(): string {
    return this.node.name;
  }

  flag(name: string): boolean {
    return this.options.has(name);
  }

  option(name: string): Value | undefined {
    const option = this.options.get(name);
    return option === undefined || option.value === true ? undefined : option.value;
  }

  // Converts an option's value, blaming the option's value on failure.
  convert<T>(name: string, convert: (value: Value) => T): T | undefined {
    const option = this.options.get(name);
    if (option === undefined || option.value === true) return undefined;
    const value = option.value;
    return atArgument(option.at, () => convert(value));
  }

  // Converts every operand, blaming the operand that fails.
  convertOperands<T>(convert: (value: Value) => T[]): T[] {
    return this.operands.flatMap((operand) => atArgument(operand.at, () => convert(operand.value)));
  }

  // Converts one operand, blaming it on failure.
  operand<T>(index: number, convert: (value: Value) => T): T {
    const operand = this.operands[index];
    return atArgument(operand.at, () => convert(operand.value));
  }

  // Converts every operand, keeping which operand each item came from.
  operandItems<T>(convert: (value: Value) => T[]): Array<{ item: T; at: Position }> {
    return this.operands.flatMap((operand) => atArgument(operand.at, () => convert(operand.value)).map((item) => ({ item, at: operand.at })));
  }

  get site(): Site {
    return this.session.site;
  }

  // The storage image: -dev, else the image that fully qualified operands
  // name (IBM.2107-75KDR91/1000), else setenv -dev, else the session's
  // current one. Operands that name another image than -dev are refused.
  async image(): Promise<ImageInfo> {
    const images = await this.site.listImages();
    const find = (text: string) => this.session.findIn(images, text);
    const dev = this.options.get("dev");
    const named = dev && dev.value !== true ? atArgument(dev.at, () => find(String(dev.value))) : undefined;
    let chosen = named;
    for (const operand of this.operands) {
      for (const qualifier of imageQualifiers(operand.value)) {
        const image = atArgument(operand.at, () => find(qualifier));
        chosen ??= image;
        if (image.id !== chosen.id) {
          const other = named ? `-dev ${chosen.id}` : `other operands' ${chosen.id}`;
          throw new CommandFailure("BAD_ARGUMENT", `operand ${formatValue(operand.value)} names storage image ${image.id}, not ${other}`, operand.at);
        }
      }
    }
    return chosen ?? this.session.currentIn(images);
  }

  // Awaits a site call. A SiteError that names an entry of the request is
  // raised at that entry's position in `items`; one that names an option, at
  // the option's value.
  async call<T>(call: Promise<T>, items: ReadonlyArray<{ at: Position }> = []): Promise<T> {
    try {
      return await call;
    } catch (error) {
      if (!isSiteError(error)) throw error;
      const at = error.item !== undefined ? items[error.item]?.at : error.option !== undefined ? this.options.get(error.option)?.at : undefined;
      throw new CommandFailure(error.code, error.message, at);
    }
  }

  // Awaits a site call about one argument, blaming that argument on failure.
  async callAt<T>(at: Position, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      if (isSiteError(error)) throw new CommandFailure(error.code, error.message, at);
      throw error;
    }
  }


  // A listing as lines (per -fmt, -delim, -hdr, -bnr over setenv) and as a value.
  listing(listing: Listing, imageId: string | null, empty: string, format?: OutputFormat): CommandResult {
    if (listing.rows.length === 0) return { lines: [empty], value: [] };
    return { lines: formatListing(listing, this.outputSettings(format), bannerLine(this.session.now(), imageId)), value: listing.rows };
  }

  outputSettings(format?: OutputFormat): OutputSettings {
    const settings = this.session.settings;
    const onOff = (name: string, fallback: boolean) => {
      const value = this.option(name);
      return value === undefined ? fallback : String(value).toLowerCase() === "on";
    };
    const fmt = this.option("fmt");
    const delim = this.option("delim");
    if (delim !== undefined && String(delim).length !== 1) {
      throw new EngineError("BAD_ARGUMENT", `-delim ${String(delim)} is not one character`);
    }
    return {
      format: fmt === undefined ? format ?? settings.format : (String(fmt).toLowerCase() as OutputFormat),
      delim: delim === undefined ? settings.delim : String(delim),
      header: onOff("hdr", settings.header),
      banner: onOff("bnr", settings.banner),
      fullid: this.flag("fullid") || settings.fullid,
    };
  }

  // An ID as listings show it: `IBM.2107-75KDR91/1000` under -fullid or setenv -fullid on.
  fullId(imageId: string, id: string): string {
    return this.flag("fullid") || this.session.settings.fullid ? qualifiedId(imageId, id) : id;
  }
}
