// The one table of every command and statement of the language. It drives
// the parser's validation (options, their values, operand counts), `help`
// and `help CMD`, and the REPL's completion.
//
// Shape, for importers (src/cli/repl.ts):
//   COMMANDS: readonly CommandSpec[], in the order `help` lists them.
//   CommandSpec
//     name         "mkflash", or "workload" for a command with subcommands
//     summary      one line for `help`
//     usage        the synopsis for `help CMD`
//     group        "ds" (DS CLI), "data" / "workload" (tzero's), "statement", "session"
//     options      OptionSpec[]: name without "-", kind (absent: a flag), values for
//                  kind "enum", required, summary
//     operands     OperandSpec[] in order: name, kind, optional, repeat (the last may repeat)
//     subcommands  for "workload" and "wait": CommandSpec[] whose names are the
//                  second word ("start"); their `parent` is the first word
//     statement    true for let / assert / expect / repeat, parsed by their own rules
//   findCommand(name) and findSubcommand(spec, name) look names up (lower case).
//   Value kinds tell completion what to offer: volume/volumes ids, pair/pairs
//   relationship ids, file paths, enum values, images, commands.
import { OS_TYPES } from "../site/shared.js";

export type ValueKind =
  | "volume" // 1000
  | "volumes" // 1000 or 1000-1003
  | "pairs" // 1000:1001 or 1000-1001:1002-1003
  | "volumes-or-pairs" // either
  | "lss" // 10
  | "image" // IBM.2105-75TZ001
  | "file"
  | "number"
  | "size" // bytes: 4096, 4KiB, 1MiB
  | "duration" // 500ms, 2s, 1min
  | "enum"
  | "pattern" // 0xNN or random
  | "text"
  | "name" // a workload name
  | "command"; // a command name (help)

export interface OptionSpec {
  readonly name: string;
  readonly kind?: ValueKind;
  readonly values?: readonly string[];
  readonly required?: boolean;
  readonly inert?: boolean; // DS CLI takes it; it changes nothing in tzero's model (help says so)
  readonly summary: string;
}

export interface OperandSpec {
  readonly name: string;
  readonly kind: ValueKind;
  readonly optional?: boolean;
  readonly repeat?: boolean;
  readonly summary: string;
}

export type CommandGroup = "ds" | "data" | "workload" | "statement" | "session";

export interface CommandSpec {
  readonly name: string;
  readonly parent?: string;
  readonly group: CommandGroup;
  readonly summary: string;
  readonly usage: string;
  readonly options: readonly OptionSpec[];
  readonly operands: readonly OperandSpec[];
  readonly subcommands?: readonly CommandSpec[];
  readonly statement?: boolean;
}

// ---- spec pieces that several commands share ---------------------------------------------
const DEV: OptionSpec = { name: "dev", kind: "image", summary: "the storage image (default: setenv -dev, else the current one)" };
const LONG: OptionSpec = { name: "l", summary: "long: every column" };
const SHORT: OptionSpec = { name: "s", summary: "short: IDs only" };
const QUIET: OptionSpec = { name: "quiet", summary: "do not ask for confirmation" };
const ON_OFF = ["on", "off"];
const FORMATS = ["default", "delim", "stanza", "json"];
const CAPACITY_UNITS = ["ds", "ess", "blocks"];
const RANK_GROUPS = ["0", "1"];
const LISTING: readonly OptionSpec[] = [
  { name: "fmt", kind: "enum", values: FORMATS, summary: "output format" },
  { name: "delim", kind: "text", summary: "column separator for -fmt delim (default ,)" },
  { name: "hdr", kind: "enum", values: ON_OFF, summary: "show the header row" },
  { name: "bnr", kind: "enum", values: ON_OFF, summary: "show the banner line" },
  { name: "fullid", summary: "fully qualified IDs: IBM.2107-75KDR91/1000" },
  { name: "p", kind: "enum", values: ON_OFF, inert: true, summary: "paging (scripts never page)" },
  { name: "r", kind: "number", inert: true, summary: "rows per page (scripts never page)" },
];
// The listing options but these: for commands whose listings have no IDs to qualify, or no paging.
function listingWithout(...names: string[]): OptionSpec[] {
  return LISTING.filter((option) => !names.includes(option.name));
}
const SIZE_RANGE: readonly OptionSpec[] = [
  { name: "offset", kind: "size", summary: "first byte (4096, 4KiB, 1MiB)" },
  { name: "len", kind: "size", summary: "number of bytes" },
];
const SIZE_RANGE_REQUIRED: readonly OptionSpec[] = SIZE_RANGE.map((option) => ({ ...option, required: true }));
const DATA_PATTERN: readonly OptionSpec[] = [
  { name: "pattern", kind: "pattern", required: true, summary: "a byte 0xNN, or random" },
  { name: "seed", kind: "number", summary: "seed of -pattern random (default 0)" },
];
const VOLUME_OPERAND: OperandSpec = { name: "VOLUME_ID", kind: "volume", summary: "the volume" };
const PAIRS_OPERAND: OperandSpec = { name: "SOURCE:TARGET", kind: "pairs", repeat: true, summary: "pairs, or pair ranges 1000-1001:1002-1003" };
const PERSIST: OptionSpec = { name: "persist", summary: "keep the relationship after its background copy completes" };
const TGTINHIBIT: OptionSpec = { name: "tgtinhibit", summary: "refuse host writes to the target" };
const SEQNUM: OptionSpec = { name: "seqnum", kind: "text", summary: "sequence number in hex (0 to FFFFFFFF)" };

// ---- FlashCopy V2 (model 2107; handlers in flash-v2-commands.ts) ----------------------------
const INCREMENT_OPTIONS: readonly OptionSpec[] = [
  { name: "record", summary: "keep recording changes, so that it can be resynchronised again (implies -persist)" },
  PERSIST,
  TGTINHIBIT,
  { name: "tgtpprc", summary: "the target may be a PPRC primary (accepted; takes effect with PPRC)" },
  SEQNUM,
];
// commitflash and revertflash: revertible pairs, by their sources or as pairs.
const REVERTIBLE_OPTIONS: readonly OptionSpec[] = [{ ...SEQNUM, summary: "only the relationships of this sequence number (hex)" }, DEV];
const REVERTIBLE_OPERAND: OperandSpec = { name: "SOURCE", kind: "volumes-or-pairs", repeat: true, summary: "source volumes (their revertible pairs) or pairs" };
const FLASH_V2_SPECS: readonly CommandSpec[] = [
  {
    name: "resyncflash", group: "ds", summary: "2107: a new T0 copying only the tracks changed since the last (pairs made with -record -persist)",
    usage: "resyncflash [-record] [-persist] [-freeze] [-tgtinhibit] [-tgtpprc] [-seqnum N] [-dev IMAGE] SOURCE:TARGET...",
    options: [...INCREMENT_OPTIONS, { name: "freeze", summary: "hold the sources' writes after the new T0, until unfreezeflash" }, DEV],
    operands: [PAIRS_OPERAND],
  },
  {
    name: "reverseflash", group: "ds", summary: "2107: the target becomes the source; the tracks that differ are copied back",
    usage: "reverseflash [-fast] [-record] [-persist] [-tgtinhibit] [-tgtpprc] [-seqnum N] [-dev IMAGE] SOURCE:TARGET...",
    options: [{ name: "fast", summary: "no background copy: the old source reads as the old target at once" }, ...INCREMENT_OPTIONS, DEV],
    operands: [{ ...PAIRS_OPERAND, summary: "the pairs as they are now (they come out reversed)" }],
  },
  {
    name: "setflashrevertible", group: "ds", summary: "2107: a new T0 (as resyncflash) that commitflash keeps or revertflash rolls back",
    usage: "setflashrevertible [-seqnum N] [-dev IMAGE] SOURCE:TARGET...",
    options: [SEQNUM, DEV],
    operands: [PAIRS_OPERAND],
  },
  {
    name: "commitflash", group: "ds", summary: "2107: keep the last increment of revertible pairs",
    usage: "commitflash [-seqnum N] [-dev IMAGE] SOURCE_VOLUME_ID | SOURCE:TARGET...",
    options: REVERTIBLE_OPTIONS,
    operands: [REVERTIBLE_OPERAND],
  },
  {
    name: "revertflash", group: "ds", summary: "2107: roll revertible pairs' targets back to before their last increment",
    usage: "revertflash [-seqnum N] [-dev IMAGE] SOURCE_VOLUME_ID | SOURCE:TARGET...",
    options: REVERTIBLE_OPTIONS,
    operands: [REVERTIBLE_OPERAND],
  },
  {
    name: "unfreezeflash", group: "ds", summary: "2107: end the write holds of mkflash -freeze on the sources in these LSSs",
    usage: "unfreezeflash [-dev IMAGE] LSS...",
    options: [DEV],
    operands: [{ name: "LSS", kind: "lss", repeat: true, summary: "source LSSs such as 10" }],
  },
];
// ---- PPRC (handlers in pprc-commands.ts) ------------------------------------------------------
const REMOTEDEV: OptionSpec = { name: "remotedev", kind: "image", required: true, summary: "the storage image at the other end" };
const REMOTEDEV_OPTIONAL: OptionSpec = { ...REMOTEDEV, required: false, summary: "the secondaries' storage image (checked when given)" };
const PPRC_TYPE: OptionSpec = { name: "type", kind: "enum", values: ["mmir", "gcp"], summary: "mmir: Metro Mirror (synchronous); gcp: Global Copy (asynchronous)" };
const PPRC_PAIRS: OperandSpec = { name: "PRIMARY:SECONDARY", kind: "pairs", repeat: true, summary: "pairs, or pair ranges 1000-1001:2000-2001" };
const LSS_PAIRS: OperandSpec = { name: "SOURCE_LSS:TARGET_LSS", kind: "text", repeat: true, summary: "LSS pairs such as 10:20" };
const PPRC_SPECS: readonly CommandSpec[] = [
  {
    name: "lsavailpprcport", group: "ds", summary: "list the port pairs a PPRC path to another image can use",
    usage: "lsavailpprcport -remotedev IMAGE [-remotewwnn WWNN] [-fmt ...] [-dev IMAGE] [SOURCE_LSS:TARGET_LSS]",
    options: [REMOTEDEV, { name: "remotewwnn", kind: "text", inert: true, summary: "the remote image's WWNN (lssi -l)" }, ...LISTING, DEV],
    operands: [{ ...LSS_PAIRS, optional: true, repeat: false }],
  },
  {
    name: "mkpprcpath", group: "ds", summary: "set the PPRC paths of an LSS pair (replaces the pair's whole set)",
    usage: "mkpprcpath -remotedev IMAGE -remotewwnn WWNN -srclss LSS -tgtlss LSS [-consistgrp] [-dev IMAGE] LOCAL_PORT:REMOTE_PORT...",
    options: [
      REMOTEDEV,
      { name: "remotewwnn", kind: "text", required: true, summary: "the remote image's WWNN (lssi -l shows it)" },
      { name: "srclss", kind: "lss", required: true, summary: "the LSS of the primaries, on this image" },
      { name: "tgtlss", kind: "lss", required: true, summary: "the LSS of the secondaries, on the remote image" },
      { name: "consistgrp", summary: "a consistency group: freezepprc then holds the primaries' writes (long busy) until unfreezepprc or 60 s" },
      DEV,
    ],
    operands: [{ name: "LOCAL_PORT:REMOTE_PORT", kind: "text", repeat: true, summary: "one to eight port pairs such as I0010:I0143 (lsavailpprcport)" }],
  },
  {
    name: "lspprcpath", group: "ds", summary: "list PPRC paths: Src Tgt State SS Port Attached Port Tgt WWNN",
    usage: "lspprcpath [-l] [-fmt ...] [-fullid] [-dev IMAGE] [SOURCE_LSS...]",
    options: [{ ...LONG, summary: "long: also Failed Reason and PPRC_CG" }, ...LISTING, DEV],
    operands: [{ name: "SOURCE_LSS", kind: "lss", optional: true, repeat: true, summary: "only paths from these LSSs" }],
  },
  {
    name: "rmpprcpath", group: "ds", summary: "remove PPRC paths (not while pairs use them, unless -force)",
    usage: "rmpprcpath -remotedev IMAGE [-force] [-quiet] [-dev IMAGE] SOURCE_LSS:TARGET_LSS...",
    options: [REMOTEDEV, { name: "force", summary: "remove even paths that carry pairs (the pairs suspend)" }, QUIET, DEV],
    operands: [LSS_PAIRS],
  },
  {
    name: "mkpprc", group: "ds", summary: "make Metro Mirror or Global Copy pairs (needs a Success path between the LSSs)",
    usage: "mkpprc -remotedev IMAGE -type mmir|gcp [-mode full|nocp] [-tgtread] [-critmode] [-wait] [-dev IMAGE] PRIMARY:SECONDARY...",
    options: [
      REMOTEDEV, { ...PPRC_TYPE, required: true },
      { name: "mode", kind: "enum", values: ["full", "nocp"], summary: "full: copy every track first (default); nocp: the volumes are equal already" },
      { name: "tgtread", summary: "allow host reads of the secondaries" },
      { name: "critmode", summary: "Metro Mirror: a write that cannot be mirrored fails, and later ones too until resumed" },
      { name: "wait", summary: "return once the pairs are Full Duplex (Global Copy: past the first pass)" },
      DEV,
    ],
    operands: [PPRC_PAIRS],
  },
  {
    name: "lspprc", group: "ds", summary: "list PPRC pairs with a volume on the image (primaries, and secondaries as Target states)",
    usage: "lspprc [-l | -s] [-state STATE[,STATE]] [-remotedev IMAGE] [-fmt ...] [-fullid] [-dev IMAGE] [PRIMARY:SECONDARY...]",
    options: [
      { ...LONG, summary: "long: also Out Of Sync Tracks, Tgt Read, cascades, Date Suspended" }, SHORT,
      { name: "state", kind: "text", summary: "only pairs in these states: copy_pending, full_duplex, suspended, target_full_duplex, ..." },
      { ...REMOTEDEV_OPTIONAL, inert: true }, ...LISTING, DEV,
    ],
    operands: [{ name: "ID", kind: "pairs", optional: true, repeat: true, summary: "pairs, or ranges such as 0000-FFFF:0000-FFFF" }],
  },
  {
    name: "pausepprc", group: "ds", summary: "suspend pairs (reason Host Source); writes go on and are recorded as out of sync",
    usage: "pausepprc [-remotedev IMAGE] [-dev IMAGE] PRIMARY:SECONDARY...",
    options: [REMOTEDEV_OPTIONAL, DEV],
    operands: [PPRC_PAIRS],
  },
  {
    name: "resumepprc", group: "ds", summary: "resume suspended pairs: exactly their out-of-sync tracks are sent (Copy Pending)",
    usage: "resumepprc [-remotedev IMAGE] [-type mmir|gcp] [-dev IMAGE] PRIMARY:SECONDARY...",
    options: [REMOTEDEV_OPTIONAL, { ...PPRC_TYPE, summary: "resume as this type (gcp to mmir makes a Global Copy pair Metro Mirror)" }, DEV],
    operands: [PPRC_PAIRS],
  },
  {
    name: "rmpprc", group: "ds", summary: "end pairs (the secondaries become ordinary volumes)",
    usage: "rmpprc [-remotedev IMAGE] [-quiet] [-dev IMAGE] PRIMARY:SECONDARY...",
    options: [REMOTEDEV_OPTIONAL, QUIET, DEV],
    operands: [PPRC_PAIRS],
  },
  {
    name: "failoverpprc", group: "ds", summary: "issued to the secondaries' image: they become suspended primaries (Host Source)",
    usage: "failoverpprc -remotedev IMAGE -type mmir|gcp [-dev IMAGE] SECONDARY:PRIMARY...",
    options: [REMOTEDEV, { ...PPRC_TYPE, required: true }, DEV],
    operands: [{ ...PPRC_PAIRS, name: "SECONDARY:PRIMARY", summary: "the pairs as seen from this image: its volume first" }],
  },
  {
    name: "failbackpprc", group: "ds", summary: "after failoverpprc: copy the tracks changed on either side to the old primaries",
    usage: "failbackpprc -remotedev IMAGE -type mmir|gcp [-dev IMAGE] PRIMARY:SECONDARY...",
    options: [REMOTEDEV, { ...PPRC_TYPE, required: true }, DEV],
    operands: [{ ...PPRC_PAIRS, summary: "the failed-over pairs, this image's volume first" }],
  },
  {
    name: "freezepprc", group: "ds", summary: "suspend every pair of the LSS pairs at one point in time (reason Freeze) and remove their paths",
    usage: "freezepprc -remotedev IMAGE [-dev IMAGE] SOURCE_LSS:TARGET_LSS...",
    options: [REMOTEDEV, DEV],
    operands: [{ ...LSS_PAIRS, summary: "LSS pairs such as 10:20, or IMAGE/10:REMOTE_IMAGE/20 for primaries on other images or nodes; over a -consistgrp path the primaries' writes are then held (long busy)" }],
  },
  {
    name: "unfreezepprc", group: "ds", summary: "after freezepprc: the primaries in the source LSSs take writes again (the pairs stay suspended)",
    usage: "unfreezepprc -remotedev IMAGE [-dev IMAGE] SOURCE_LSS:TARGET_LSS...",
    options: [REMOTEDEV, DEV],
    operands: [LSS_PAIRS],
  },
  {
    name: "cutlink", group: "data", summary: "cut the link from this image to another (fault injection): its paths fail, its pairs suspend",
    usage: "cutlink -remotedev IMAGE [-dev IMAGE]",
    options: [REMOTEDEV, DEV],
    operands: [],
  },
  {
    name: "restorelink", group: "data", summary: "restore a link cutlink cut (the pairs stay suspended until resumepprc)",
    usage: "restorelink -remotedev IMAGE [-dev IMAGE]",
    options: [REMOTEDEV, DEV],
    operands: [],
  },
];
// ---- users of a Copy Services Server (handlers in user-commands.ts) ------------------------
const USER_GROUPS_TEXT = "admin, op_storage, op_volume, op_copy_services, service, monitor or no_access";
const USER_OPERAND: OperandSpec = { name: "USER_NAME", kind: "text", summary: "the user's name" };
const USER_SPECS: readonly CommandSpec[] = [
  {
    name: "mkuser", group: "ds", summary: "create a user of the Copy Services Server (its password expires at the first login)",
    usage: "mkuser -pw PASSWORD -group GROUP[,GROUP...] [-scope \"*\"] USER_NAME",
    options: [
      { name: "pw", kind: "text", required: true, summary: "the first password, which the user must change at the first login" },
      { name: "group", kind: "text", required: true, summary: `the user's groups, separated by commas: ${USER_GROUPS_TEXT}` },
      { name: "scope", kind: "text", summary: "resource scope: only * (every resource; tzero does not model scopes)" },
    ],
    operands: [USER_OPERAND],
  },
  {
    name: "lsuser", group: "ds", summary: "list the users of the Copy Services Server: name, groups, state",
    usage: "lsuser [-fmt ...]",
    options: listingWithout("fullid"),
    operands: [],
  },
  {
    name: "showuser", group: "ds", summary: "show one user: groups, state, failed logins since the last good one",
    usage: "showuser [-fmt ...] USER_NAME",
    options: listingWithout("fullid"),
    operands: [USER_OPERAND],
  },
  {
    name: "chuser", group: "ds", summary: "change a user's password or groups, or lock or unlock the account (anyone may change their own password)",
    usage: "chuser [-pw PASSWORD] [-group GROUP[,GROUP...]] [-lock | -unlock] USER_NAME",
    options: [
      { name: "pw", kind: "text", summary: "the new password (one set for someone else expires at its first use)" },
      { name: "group", kind: "text", summary: `the user's groups from now on: ${USER_GROUPS_TEXT}` },
      { name: "lock", summary: "lock the account: no more logins" },
      { name: "unlock", summary: "unlock the account (also after too many failed logins)" },
    ],
    operands: [USER_OPERAND],
  },
  {
    name: "rmuser", group: "ds", summary: "remove a user of the Copy Services Server",
    usage: "rmuser [-quiet] USER_NAME",
    options: [QUIET],
    operands: [USER_OPERAND],
  },
];

// ---- volume groups and host connections (handlers in host-commands.ts) ----------------------
const VOLGRP_OPERAND: OperandSpec = { name: "VOLUME_GROUP_ID", kind: "text", summary: "a volume group: V0, or its name" };
const HOST_SPECS: readonly CommandSpec[] = [
  {
    name: "mkvolgrp", group: "ds", summary: "create a volume group: the volumes a host connection may see",
    usage: "mkvolgrp [-type scsimask|scsimap256|os400mask|os400map256] [-volume VOLUME_ID[-VOLUME_ID] | \"LIST,...\"] [-dev IMAGE] NAME",
    options: [
      { name: "type", kind: "enum", values: ["scsimask", "scsimap256", "os400mask", "os400map256"], summary: "how hosts address it (default scsimask; map256 types hold at most 256 volumes)" },
      { name: "volume", kind: "volumes", summary: "its volumes: 1000-1003, or a quoted comma list \"1000,1005\"" },
      { name: "hosttype", kind: "text", inert: true, summary: "the host type the group is made for" },
      DEV,
    ],
    operands: [{ name: "NAME", kind: "text", summary: "the group's name, at most 16 characters" }],
  },
  {
    name: "chvolgrp", group: "ds", summary: "add volumes to a volume group, remove them, or rename it",
    usage: "chvolgrp [-action add|remove|replace -volume VOLUME_ID[-VOLUME_ID] | \"LIST,...\"] [-name NAME] [-dev IMAGE] VOLUME_GROUP_ID",
    options: [
      { name: "action", kind: "enum", values: ["add", "remove", "replace"], summary: "what -volume does to the group" },
      { name: "volume", kind: "volumes", summary: "the volumes: 1000-1003, or a quoted comma list \"1000,1005\"" },
      { name: "name", kind: "text", summary: "a new name" },
      DEV,
    ],
    operands: [VOLGRP_OPERAND],
  },
  {
    name: "lsvolgrp", group: "ds", summary: "list volume groups",
    usage: "lsvolgrp [-l | -s] [-fmt ...] [-fullid] [-dev IMAGE] [VOLUME_GROUP_ID...]",
    options: [LONG, SHORT, ...LISTING, DEV],
    operands: [{ ...VOLGRP_OPERAND, optional: true, repeat: true }],
  },
  {
    name: "showvolgrp", group: "ds", summary: "show one volume group and its volumes",
    usage: "showvolgrp [-fmt ...] [-fullid] [-dev IMAGE] VOLUME_GROUP_ID",
    options: [...LISTING, DEV],
    operands: [VOLGRP_OPERAND],
  },
  {
    name: "rmvolgrp", group: "ds", summary: "remove volume groups no host connection uses",
    usage: "rmvolgrp [-quiet] [-dev IMAGE] VOLUME_GROUP_ID...",
    options: [QUIET, DEV],
    operands: [{ name: "VOLUME_GROUP_ID", kind: "text", repeat: true, summary: "volume groups: V0" }],
  },
  {
    name: "mkhostconnect", group: "ds", summary: "create a host connection; with -nbd, real NBD clients reach its volume group there",
    usage: "mkhostconnect -hosttype TYPE [-wwname WWPN] [-volgrp VOLUME_GROUP_ID] [-nbd HOST:PORT|SOCKET_PATH] [-dev IMAGE] NAME",
    options: [
      { name: "hosttype", kind: "text", required: true, summary: "pSeries, iSeries, LinuxRHEL, LinuxSuse, zLinux, Win2008, Win2012, VMware, Sun, HpUx, pSeriesPowerswap" },
      { name: "wwname", kind: "text", summary: "the host port's WWPN, 16 hex digits" },
      { name: "volgrp", kind: "text", summary: "the volume group it sees (V0)" },
      { name: "nbd", kind: "text", summary: "an NBD endpoint: \"127.0.0.1:10809\" (port 0: any free one) or a unix socket path; bind 127.0.0.1 unless you mean otherwise" },
      { name: "profile", kind: "text", inert: true, summary: "the host profile (follows from -hosttype)" },
      { name: "ioport", kind: "text", inert: true, summary: "the I/O ports it logs in through (all)" },
      DEV,
    ],
    operands: [{ name: "NAME", kind: "text", summary: "the host connection's name, at most 16 characters" }],
  },
  {
    name: "lshostconnect", group: "ds", summary: "list host connections, their volume groups, NBD endpoints and attached clients",
    usage: "lshostconnect [-l | -s] [-volgrp VOLUME_GROUP_ID] [-fmt ...] [-fullid] [-dev IMAGE] [HOST_CONNECTION_ID...]",
    options: [LONG, SHORT, { name: "volgrp", kind: "text", summary: "only host connections of this volume group" }, ...LISTING, DEV],
    operands: [{ name: "HOST_CONNECTION_ID", kind: "text", optional: true, repeat: true, summary: "host connections: 0000, or their names" }],
  },
  {
    name: "rmhostconnect", group: "ds", summary: "remove host connections, closing their NBD endpoints and clients",
    usage: "rmhostconnect [-quiet] [-dev IMAGE] HOST_CONNECTION_ID...",
    options: [QUIET, DEV],
    operands: [{ name: "HOST_CONNECTION_ID", kind: "text", repeat: true, summary: "host connections: 0000" }],
  },
];

// A subcommand takes its parent's name and group.
type SubcommandSpec = Omit<CommandSpec, "parent" | "group">;
const workloadSub = (spec: SubcommandSpec): CommandSpec => ({ ...spec, parent: "workload", group: "workload" });
const waitSub = (spec: SubcommandSpec): CommandSpec => ({ ...spec, parent: "wait", group: "statement" });
const WORKLOAD_OPERAND: OperandSpec = { name: "NAME", kind: "name", summary: "the workload" };
const WAIT_OPTIONS: readonly OptionSpec[] = [{ name: "timeout", kind: "duration", summary: "fail after this long (default 10min)" }, DEV];

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "mkfbvol", group: "ds", summary: "create fixed-block volumes",
    usage: "mkfbvol -cap N [-type ds|ess|blocks] [-name NAME] [-os OS] [-extpool P] [-sam ese|standard|tse] [-eam ...] [-dev IMAGE] VOLUME_ID[-VOLUME_ID]...",
    options: [
      { name: "cap", kind: "number", required: true, summary: "capacity, in the unit of -type" },
      { name: "type", kind: "enum", values: CAPACITY_UNITS, summary: "capacity unit: ds 2^30 B (default), ess 10^9 B, blocks of 512 B" },
      { name: "name", kind: "text", summary: "volume name, at most 16 characters; #h becomes the volume ID, #d its decimal number" },
      { name: "os", kind: "enum", values: OS_TYPES, summary: "host operating system type (default aix)" },
      { name: "extpool", kind: "text", summary: "extent pool, of rank group 0 for an even LSS and 1 for an odd one (default: the first such pool)" },
      { name: "sam", kind: "enum", values: ["ese", "standard", "tse"], summary: "storage allocation method: standard allocates the whole capacity at creation; ese (default) and tse, as ese, on first write" },
      { name: "eam", kind: "enum", values: ["rotatevols", "rotateexts", "managed"], inert: true, summary: "extent allocation method" },
      DEV,
    ],
    operands: [{ name: "VOLUME_ID", kind: "volumes", repeat: true, summary: "volume IDs LLVV, or ranges 1000-1003" }],
  },
  {
    name: "lsfbvol", group: "ds", summary: "list fixed-block volumes",
    usage: "lsfbvol [-l | -s] [-lss LSS] [-extpool P] [-fmt ...] [-fullid] [-dev IMAGE] [VOLUME_ID...]",
    options: [
      { name: "lss", kind: "lss", summary: "only volumes of this LSS" },
      { name: "extpool", kind: "text", summary: "only volumes of this extent pool" },
      LONG, SHORT,
      ...LISTING, DEV,
    ],
    operands: [{ name: "VOLUME_ID", kind: "volumes", optional: true, repeat: true, summary: "volumes, or ranges such as 0000-FFFF: whatever exists in them" }],
  },
  {
    name: "showfbvol", group: "ds", summary: "show one volume's properties",
    usage: "showfbvol [-fmt ...] [-fullid] [-dev IMAGE] VOLUME_ID",
    options: [...LISTING, DEV],
    operands: [VOLUME_OPERAND],
  },
  {
    name: "rmfbvol", group: "ds", summary: "remove volumes (not while in a FlashCopy relationship)",
    usage: "rmfbvol [-quiet] [-dev IMAGE] VOLUME_ID[-VOLUME_ID]...",
    options: [QUIET, DEV],
    operands: [{ name: "VOLUME_ID", kind: "volumes", repeat: true, summary: "volumes or ranges to remove" }],
  },
  {
    name: "initfbvol", group: "ds", summary: "release volumes' data (they read as zeros) and make them usable again",
    usage: "initfbvol [-action releasespace] [-quiet] [-dev IMAGE] VOLUME_ID[-VOLUME_ID]...",
    options: [
      { name: "action", kind: "enum", values: ["releasespace"], summary: "what to do (releasespace, the default)" },
      QUIET,
      DEV,
    ],
    operands: [{ name: "VOLUME_ID", kind: "volumes", repeat: true, summary: "volumes or ranges to initialise" }],
  },
  {
    name: "chfbvol", group: "ds", summary: "rename volumes, or grow them (never while in a FlashCopy relationship)",
    usage: "chfbvol (-name NAME | -cap N [-type ds|ess|blocks]) [-quiet] [-dev IMAGE] VOLUME_ID[-VOLUME_ID]...",
    options: [
      { name: "name", kind: "text", summary: "new name, at most 16 characters; #h and #d as for mkfbvol" },
      { name: "cap", kind: "number", summary: "new capacity, larger than the present one, in the unit of -type" },
      { name: "type", kind: "enum", values: CAPACITY_UNITS, summary: "unit of -cap (default: the volume's own)" },
      { ...QUIET, inert: true, summary: "do not ask for confirmation (chfbvol never asks in tzero)" },
      DEV,
    ],
    operands: [{ name: "VOLUME_ID", kind: "volumes", repeat: true, summary: "volumes or ranges to change" }],
  },
  {
    name: "lslss", group: "ds", summary: "list logical subsystems",
    usage: "lslss [-l | -s] [-fmt ...] [-fullid] [-dev IMAGE] [LSS[-LSS]...]",
    options: [LONG, SHORT, ...LISTING, DEV],
    operands: [{ name: "LSS", kind: "lss", optional: true, repeat: true, summary: "LSSs, or ranges such as 00-FF: whatever exists in them" }],
  },
  {
    name: "showlss", group: "ds", summary: "show one logical subsystem's properties",
    usage: "showlss [-fmt ...] [-fullid] [-dev IMAGE] LSS",
    options: [...LISTING, DEV],
    operands: [{ name: "LSS", kind: "lss", summary: "the LSS" }],
  },
  {
    name: "lssi", group: "ds", summary: "list storage images",
    usage: "lssi [-l | -s] [-fmt ...] [IMAGE_ID...]",
    options: [LONG, SHORT, ...LISTING],
    operands: [{ name: "IMAGE_ID", kind: "image", optional: true, repeat: true, summary: "storage images to list" }],
  },
  {
    name: "showsi", group: "ds", summary: "show one storage image's properties",
    usage: "showsi [-fmt ...] [-dev IMAGE | IMAGE_ID]",
    options: [...LISTING, DEV],
    operands: [{ name: "IMAGE_ID", kind: "image", optional: true, summary: "the image (default: -dev, else the current one)" }],
  },
  {
    name: "mkextpool", group: "ds", summary: "create an extent pool",
    usage: "mkextpool -rankgrp 0|1 -stgtype fb [-cap GiB] [-dev IMAGE] NAME",
    options: [
      { name: "rankgrp", kind: "enum", values: RANK_GROUPS, required: true, summary: "rank group: 0 for even LSSs, 1 for odd ones; the ID follows (even or odd)" },
      { name: "stgtype", kind: "enum", values: ["fb"], required: true, summary: "storage type (tzero models fixed-block volumes)" },
      { name: "cap", kind: "number", summary: "capacity in GiB, a whole number (default 2): its volumes' written extents count against it" },
      { name: "extentlimit", kind: "enum", values: ["enable", "disable"], inert: true, summary: "extent limit (the capacity is the limit)" },
      { name: "encryptgrp", kind: "text", inert: true, summary: "encryption group" },
      DEV,
    ],
    operands: [{ name: "NAME", kind: "text", summary: "the pool's name, at most 16 characters" }],
  },
  {
    name: "rmextpool", group: "ds", summary: "remove extent pools that hold no volume",
    usage: "rmextpool [-quiet] [-dev IMAGE] POOL_ID...",
    options: [QUIET, DEV],
    operands: [{ name: "POOL_ID", kind: "text", repeat: true, summary: "pools: P2, or their names" }],
  },
  {
    name: "lsextpool", group: "ds", summary: "list extent pools: free GiB, % allocated, free extents (tzero's are 1 MiB), volumes",
    usage: "lsextpool [-l | -s] [-stgtype fb] [-rankgrp 0|1] [-fmt ...] [-fullid] [-dev IMAGE] [POOL_ID...]",
    options: [
      LONG, SHORT,
      { name: "stgtype", kind: "enum", values: ["fb"], summary: "only pools of this storage type" },
      { name: "rankgrp", kind: "enum", values: RANK_GROUPS, summary: "only pools of this rank group" },
      ...LISTING, DEV,
    ],
    operands: [{ name: "POOL_ID", kind: "text", optional: true, repeat: true, summary: "pools to list" }],
  },
  {
    name: "showextpool", group: "ds", summary: "show one extent pool's properties",
    usage: "showextpool [-fmt ...] [-fullid] [-dev IMAGE] POOL_ID",
    options: [...LISTING, DEV],
    operands: [{ name: "POOL_ID", kind: "text", summary: "the pool" }],
  },
  {
    name: "lsioport", group: "ds", summary: "list I/O ports (the ends of PPRC paths)",
    usage: "lsioport [-l | -s] [-fmt ...] [-fullid] [-dev IMAGE] [PORT_ID...]",
    options: [LONG, SHORT, ...LISTING, DEV],
    operands: [{ name: "PORT_ID", kind: "text", optional: true, repeat: true, summary: "ports such as I0010, or ranges I0010-I0143" }],
  },
  ...HOST_SPECS,
  {
    name: "ver", group: "ds", summary: "show the DS CLI version, and with -l the storage images' code levels",
    usage: "ver [-l | -s | -cli | -lmc] [-fmt ...]",
    options: [
      LONG, { name: "s", summary: "the DS CLI version alone" },
      { name: "cli", summary: "the DS CLI version alone" },
      { name: "lmc", summary: "the storage images' code levels" },
      { name: "stor", inert: true, summary: "storage manager version (there is none in tzero)" },
      ...listingWithout("delim", "fullid", "p", "r"),
    ],
    operands: [],
  },
  {
    name: "mksi", group: "ds", summary: "add a storage image (tzero)",
    usage: "mksi [-model 2105|2107] [IMAGE_ID]",
    options: [{ name: "model", kind: "enum", values: ["2105", "2107"], summary: "2105 ESS rules (default) or 2107 DS8000 rules" }],
    operands: [{ name: "IMAGE_ID", kind: "image", optional: true, summary: "IBM.2107-75TZ002 style; the next free serial when omitted" }],
  },
  {
    name: "mkflash", group: "ds", summary: "establish FlashCopy pairs",
    usage: "mkflash [-cp | -nocp] [-persist] [-record] [-tgtinhibit] [-seqnum N] [-freeze] [-tgtpprc] [-wait] [-dev IMAGE] SOURCE:TARGET...",
    options: [
      { name: "cp", summary: "background copy (the default, said explicitly)" },
      { name: "nocp", summary: "no background copy: only changed tracks are copied; lasts until rmflash" },
      PERSIST,
      { name: "record", summary: "record changed tracks on source and target (implies -persist)" },
      TGTINHIBIT,
      SEQNUM,
      { name: "freeze", summary: "2107: a consistency group; then the sources' writes are held (long busy) until unfreezeflash or 60 s" },
      { name: "tgtpprc", summary: "2107: the target may be a PPRC primary (accepted; takes effect with PPRC)" },
      { name: "wait", summary: "show progress and return when the background copy completes" },
      DEV,
    ],
    operands: [PAIRS_OPERAND],
  },
  ...FLASH_V2_SPECS,
  ...PPRC_SPECS,
  {
    name: "lsflash", group: "ds", summary: "list FlashCopy relationships",
    usage: "lsflash [-l | -s] [-state valid|invalid] [-record] [-persist] [-activecp] [-revertible] [-cp] [-fmt ...] [-fullid] [-dev IMAGE] [VOLUME_ID | SOURCE:TARGET]...",
    options: [
      { ...LONG, summary: "long: also OutOfSyncTracks DateCreated DateSynced State Reason" },
      SHORT,
      { name: "state", kind: "enum", values: ["valid", "invalid", "validation_required", "tgt_failed"], summary: "only relationships in this state" },
      { name: "record", summary: "only relationships with change recording" },
      { name: "persist", summary: "only persistent relationships" },
      { name: "activecp", summary: "only relationships whose background copy is running" },
      { name: "revertible", summary: "only revertible relationships" },
      { name: "cp", summary: "only relationships with background copy" },
      { name: "seqnum", kind: "text", summary: "only relationships of this sequence number (hex)" },
      ...LISTING, DEV,
    ],
    operands: [{ name: "ID", kind: "volumes-or-pairs", optional: true, repeat: true, summary: "volumes (as source or target), pairs, or ranges such as 0000-FFFF: whatever exists in them" }],
  },
  {
    name: "rmflash", group: "ds", summary: "withdraw FlashCopy pairs",
    usage: "rmflash [-quiet] [-dev IMAGE] SOURCE:TARGET...",
    options: [QUIET, DEV],
    operands: [{ name: "SOURCE:TARGET", kind: "pairs", repeat: true, summary: "pairs or pair ranges" }],
  },
  ...USER_SPECS,
  {
    name: "setenv", group: "session", summary: "set output defaults and the default storage image",
    usage: "setenv [-banner on|off] [-header on|off] [-format default|delim|stanza|json] [-delim C] [-fullid on|off] [-devid IMAGE | -dev IMAGE] [-paging on|off]",
    options: [
      { name: "banner", kind: "enum", values: ON_OFF, summary: "banner line before listings" },
      { name: "header", kind: "enum", values: ON_OFF, summary: "header row of listings" },
      { name: "format", kind: "enum", values: FORMATS, summary: "listing format" },
      { name: "delim", kind: "text", summary: "column separator of -format delim" },
      { name: "fullid", kind: "enum", values: ON_OFF, summary: "fully qualified IDs in listings" },
      { name: "devid", kind: "image", summary: "the default storage image (as -dev)" },
      { name: "paging", kind: "enum", values: ON_OFF, inert: true, summary: "paging (scripts never page)" },
      { name: "rows", kind: "number", inert: true, summary: "rows per page (scripts never page)" },
      DEV,
    ],
    operands: [],
  },
  {
    name: "write", group: "data", summary: "write a byte pattern or seeded random data to a volume",
    usage: "write VOLUME_ID -offset BYTES -len BYTES -pattern 0xNN|random [-seed N] [-dev IMAGE]",
    options: [
      ...SIZE_RANGE_REQUIRED, ...DATA_PATTERN, DEV,
    ],
    operands: [VOLUME_OPERAND],
  },
  {
    name: "read", group: "data", summary: "read bytes of a volume as a hex dump",
    usage: "read VOLUME_ID -offset BYTES -len BYTES [-dev IMAGE]",
    options: [...SIZE_RANGE_REQUIRED, DEV],
    operands: [VOLUME_OPERAND],
  },
  {
    name: "fill", group: "data", summary: "fill a whole volume with a byte or seeded random data",
    usage: "fill VOLUME_ID -pattern 0xNN|random [-seed N] [-dev IMAGE]",
    options: [...DATA_PATTERN, DEV],
    operands: [VOLUME_OPERAND],
  },
  {
    name: "checksum", group: "data", summary: "checksum of a volume or a range of it, as a host read sees it",
    usage: "checksum VOLUME_ID [-offset BYTES -len BYTES] [-dev IMAGE]",
    options: [...SIZE_RANGE, DEV],
    operands: [VOLUME_OPERAND],
  },
  {
    name: "import", group: "data", summary: "copy a file's bytes onto the start of a volume",
    usage: "import VOLUME_ID FILE [-dev IMAGE]",
    options: [DEV],
    operands: [
      VOLUME_OPERAND,
      { name: "FILE", kind: "file", summary: "raw bytes, no larger than the volume" },
    ],
  },
  {
    name: "export", group: "data", summary: "write a volume's bytes to a file",
    usage: "export VOLUME_ID FILE [-dev IMAGE]",
    options: [DEV],
    operands: [
      VOLUME_OPERAND,
      { name: "FILE", kind: "file", summary: "the file to create or replace" },
    ],
  },
  {
    name: "workload", group: "workload", summary: "host I/O workloads in worker threads: start, stop, wait",
    usage: "workload start|stop|wait NAME ...",
    options: [],
    operands: [],
    subcommands: [
      workloadSub({
        name: "start", summary: "start a workload on a volume",
        usage: "workload start NAME -vol VOLUME_ID -rw read|write|mixed -pattern random|seq|hotspot -bs SIZE [-iops N] [-duration D] [-seed N] [-dev IMAGE]",
        options: [
          { name: "vol", kind: "volume", required: true, summary: "the volume it does I/O on" },
          { name: "rw", kind: "enum", values: ["read", "write", "mixed"], required: true, summary: "reads, writes, or 70% reads and 30% writes" },
          { name: "pattern", kind: "enum", values: ["random", "seq", "hotspot"], required: true, summary: "where I/Os go: anywhere, in order, or 90% in a tenth of the volume" },
          { name: "bs", kind: "size", required: true, summary: "bytes per I/O (512 B to 1 MiB)" },
          { name: "iops", kind: "number", summary: "at most this many I/Os per second" },
          { name: "duration", kind: "duration", summary: "stop by itself after this long" },
          { name: "seed", kind: "number", summary: "seed of offsets and data (default 1)" },
          DEV,
        ],
        operands: [{ name: "NAME", kind: "name", summary: "a name for the workload" }],
      }),
      workloadSub({
        name: "stop", summary: "stop a workload",
        usage: "workload stop NAME",
        options: [],
        operands: [WORKLOAD_OPERAND],
      }),
      workloadSub({
        name: "wait", summary: "wait until a workload with -duration ends",
        usage: "workload wait NAME [-timeout D]",
        options: [{ name: "timeout", kind: "duration", summary: "give up after this long (default: its duration and 30s more)" }],
        operands: [WORKLOAD_OPERAND],
      }),
    ],
  },
  {
    name: "lsworkload", group: "workload", summary: "list workloads: state, IOPS, MB/s, p50 and p99 latency, why a failed one failed",
    usage: "lsworkload [-fmt ...] [NAME...]",
    options: [...LISTING],
    operands: [{ name: "NAME", kind: "name", optional: true, repeat: true, summary: "workloads to list" }],
  },
  {
    name: "wait", group: "statement", summary: "wait for background copies, or PPRC pairs, to complete",
    usage: "wait flash|pprc [-timeout D] [-dev IMAGE] PAIR...",
    options: [],
    operands: [],
    subcommands: [
      waitSub({
        name: "flash", summary: "wait until the pairs' background copies complete",
        usage: "wait flash [-timeout D] [-dev IMAGE] SOURCE:TARGET...",
        options: WAIT_OPTIONS,
        operands: [{ name: "SOURCE:TARGET", kind: "pairs", optional: true, repeat: true, summary: "pairs (default: every background copy)" }],
      }),
      waitSub({
        name: "pprc", summary: "wait until PPRC pairs are Full Duplex (Global Copy: past the first pass)",
        usage: "wait pprc [-timeout D] [-dev IMAGE] PRIMARY:SECONDARY...",
        options: WAIT_OPTIONS,
        operands: [{ name: "PRIMARY:SECONDARY", kind: "pairs", optional: true, repeat: true, summary: "pairs (default: every pair whose primary is on the image)" }],
      }),
    ],
  },
  {
    name: "watch", group: "statement", summary: "show background copy and workload progress",
    usage: "watch [-for D] [-dev IMAGE] [SOURCE:TARGET...]",
    options: [{ name: "for", kind: "duration", summary: "stop watching after this long" }, DEV],
    operands: [{ name: "SOURCE:TARGET", kind: "pairs", optional: true, repeat: true, summary: "pairs to follow (default: all)" }],
  },
  {
    name: "sleep", group: "statement", summary: "pause the script",
    usage: "sleep DURATION",
    options: [],
    operands: [{ name: "DURATION", kind: "duration", summary: "500ms, 2s, 1min" }],
  },
  {
    name: "echo", group: "statement", summary: "print words, strings and values",
    usage: "echo [WORD | \"TEXT\" | $NAME | (EXPR)]...",
    options: [],
    operands: [{ name: "WORD", kind: "text", optional: true, repeat: true, summary: "what to print" }],
  },
  {
    name: "source", group: "statement", summary: "run another script file (relative to this one)",
    usage: "source FILE",
    options: [],
    operands: [{ name: "FILE", kind: "file", summary: "the script" }],
  },
  {
    name: "let", group: "statement", statement: true, summary: "set a variable",
    usage: "let NAME = EXPR", options: [], operands: [],
  },
  {
    name: "assert", group: "statement", statement: true, summary: "fail the script (exit 1) unless EXPR is true",
    usage: "assert EXPR [, \"MESSAGE\"]", options: [], operands: [],
  },
  {
    name: "expect", group: "statement", statement: true, summary: "pass only if the command fails (with CODE, if given)",
    usage: "expect error [CODE] COMMAND ...", options: [], operands: [],
  },
  {
    name: "repeat", group: "statement", statement: true, summary: "run a block N times",
    usage: "repeat N { ... }", options: [], operands: [],
  },
  {
    name: "help", group: "session", summary: "list commands, or describe one",
    usage: "help [COMMAND [SUBCOMMAND]]",
    options: [],
    operands: [
      { name: "COMMAND", kind: "command", optional: true, summary: "a command name" },
      { name: "SUBCOMMAND", kind: "text", optional: true, summary: "for workload and wait: start, stop, wait, flash" },
    ],
  },
  {
    name: "save", group: "session", summary: "save every storage image, crash-safely, at one point in time",
    usage: "save [FILE]",
    options: [],
    operands: [{ name: "FILE", kind: "file", optional: true, summary: "the state file (default: the --state file)" }],
  },
  {
    name: "load", group: "session", summary: "replace the storage images with those of a state file",
    usage: "load FILE",
    options: [],
    operands: [{ name: "FILE", kind: "file", summary: "a state file written by save" }],
  },
  { name: "quit", group: "session", summary: "end the session or script", usage: "quit", options: [], operands: [] },
  { name: "exit", group: "session", summary: "end the session or script", usage: "exit", options: [], operands: [] },
];

const BY_NAME = new Map(COMMANDS.map((spec) => [spec.name, spec]));

export function findCommand(name: string): CommandSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

export function findSubcommand(spec: CommandSpec, name: string): CommandSpec | undefined {
  return spec.subcommands?.find((sub) => sub.name === name.toLowerCase());
}

export function findOption(spec: CommandSpec, name: string): OptionSpec | undefined {
  return spec.options.find((option) => option.name === name.toLowerCase());
}

// The full name of a command: "mkflash", "workload start".
export function commandName(spec: CommandSpec): string {
  return spec.parent ? `${spec.parent} ${spec.name}` : spec.name;
}

// The closest command name, for "did you mean".
export function suggestCommand(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const spec of COMMANDS) {
    const distance = editDistance(name.toLowerCase(), spec.name);
    if (distance < bestDistance) {
      best = spec.name;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

// ---- help text ------------------------------------------------------------------

const GROUP_TITLES: Record<CommandGroup, string> = {
  ds: "DS CLI commands",
  data: "Data (tzero)",
  workload: "Workloads (tzero)",
  statement: "Statements",
  session: "Session",
};

export function helpText(): string {
  const lines: string[] = [];
  const width = Math.max(...COMMANDS.map((spec) => spec.name.length)) + 2;
  for (const group of Object.keys(GROUP_TITLES) as CommandGroup[]) {
    lines.push(`${GROUP_TITLES[group]}:`);
    for (const spec of COMMANDS.filter((candidate) => candidate.group === group)) {
      lines.push(`  ${spec.name.padEnd(width)}${spec.summary}`);
    }
  }
  lines.push("Type help COMMAND for its options.");
  return lines.join("\n");
}

export function commandHelp(spec: CommandSpec): string {
  const lines = [`${commandName(spec)}: ${spec.summary}`, `usage: ${spec.usage}`];
  const optionLabel = (option: OptionSpec) => {
    const value = option.kind === undefined ? "" : option.kind === "enum" ? ` ${option.values?.join("|")}` : ` ${option.kind.toUpperCase()}`;
    return `-${option.name}${value}`;
  };
  // The text column starts after the longest label, so that no label runs into its text.
  const labels = [...spec.operands.map((operand) => operand.name), ...spec.options.map(optionLabel)];
  const width = Math.max(20, ...labels.map((label) => label.length)) + 2;
  const describe = (label: string, text: string) => lines.push(`  ${label.padEnd(width)}${text}`);
  if (spec.operands.length > 0) {
    lines.push("operands:");
    for (const operand of spec.operands) describe(operand.name, operand.summary);
  }
  if (spec.options.length > 0) {
    lines.push("options:");
    for (const option of spec.options) {
      const note = option.required ? " (required)" : option.inert ? " (accepted as DS CLI does; changes nothing in tzero)" : "";
      describe(optionLabel(option), `${option.summary}${note}`);
    }
  }
  for (const sub of spec.subcommands ?? []) {
    lines.push("", commandHelp(sub));
  }
  return lines.join("\n");
}
