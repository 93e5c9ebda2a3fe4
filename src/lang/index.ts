// The scenario language: parse, run in a session, report errors.
export { parse } from "./parser.js";
export type { Program, Statement, Expr, Arg, CommandNode, OptionNode, Position, Value } from "./parser.js";
export { Lexer } from "./lexer.js";
export type { Token, TokenKind, Part } from "./tokens.js";
export { LangSyntaxError, ScriptError, formatError, isScriptError } from "./errors.js";
export type { ScriptErrorKind } from "./errors.js";
export { Session, EMBEDDED_IMAGE_ID, syntaxScriptError } from "./session.js";
export type { SessionOptions, RunOptions } from "./session.js";
export { COMMANDS, findCommand, findSubcommand, findOption, commandName, helpText, commandHelp } from "./commands.js";
export type { CommandSpec, OptionSpec, OperandSpec, ValueKind, CommandGroup } from "./commands.js";
export { formatListing, bannerLine, DEFAULT_SETTINGS } from "./format.js";
export type { Listing, OutputFormat, OutputSettings } from "./format.js";
export { PlainPresenter } from "./plain-presenter.js";
export type { ProgressPresenter, WatchRequest, WorkloadStats } from "./presenter.js";
