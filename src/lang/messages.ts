// DS CLI message identifiers: `CMUCnnnnnX` for information and warnings,
// `CMUNnnnnnE` for errors. The error identifier follows from the error's
// stable code, so a given failure always carries the same identifier.
// Identifiers in the 09000 range are tzero's own commands.

export const INFO = {
  volumeCreated: "CMUC00025I",
  volumeRemoveQuestion: "CMUC00027W",
  volumeRemoved: "CMUC00028I",
  volumeInitQuestion: "CMUC00337W",
  volumeInitialised: "CMUC00340I",
  flashCreated: "CMUC00137I",
  flashRemoved: "CMUC00140I",
  flashRemoveQuestion: "CMUC00144W",
  flashRevertible: "CMUC00167I",
  flashResynced: "CMUC00168I",
  flashReversed: "CMUC00169I",
  flashCommitted: "CMUC00170I",
  flashReverted: "CMUC00171I",
  flashUnfrozen: "CMUC00172I",
  nothingFound: "CMUC00234I",
  imageCreated: "CMUC09001I",
  notConfirmed: "CMUC09002W",
  bytesWritten: "CMUC09010I",
  volumeFilled: "CMUC09011I",
  imported: "CMUC09012I",
  exported: "CMUC09013I",
  workloadStarted: "CMUC09020I",
  workloadStopped: "CMUC09021I",
  workloadEnded: "CMUC09022I",
  copyComplete: "CMUC09030I",
  stateSaved: "CMUC09040I",
  stateLoaded: "CMUC09041I",
  poolCreated: "CMUC00000I",
  poolRemoveQuestion: "CMUC00066W",
  poolRemoved: "CMUC00067I",
  volumeModified: "CMUC00026I",
  // Volume groups and host connections: their DS CLI numbers could not be
  // confirmed from a reference, so they take tzero's range until they are.
  volumeGroupCreated: "CMUC09050I",
  volumeGroupModified: "CMUC09051I",
  volumeGroupRemoveQuestion: "CMUC09052W",
  volumeGroupRemoved: "CMUC09053I",
  hostConnectionCreated: "CMUC09054I",
  hostConnectionRemoveQuestion: "CMUC09055W",
  hostConnectionRemoved: "CMUC09056I",
  pprcPathCreated: "CMUC00149I",
  pprcPathRemoved: "CMUC00150I",
  pprcPathRemoveQuestion: "CMUC00152W",
  pprcCreated: "CMUC00153I",
  pprcRemoved: "CMUC00155I",
  pprcPaused: "CMUC00157I",
  pprcResumed: "CMUC00158I",
  pprcRemoveQuestion: "CMUC00160W",
  pprcFailedOver: "CMUC00196I",
  pprcFailedBack: "CMUC00197I",
  pprcFrozen: "CMUC00161W",
  pprcThawed: "CMUC00198I",
  pprcSynchronised: "CMUC09031I",
  linkCut: "CMUC09032I",
  linkRestored: "CMUC09033I",
  pprcLastKnown: "CMUC09034W", // pairs or paths of a node that is not connected, as the server last knew them
  userCreated: "CMUC00133I",
  userModified: "CMUC00134I",
  userRemoveQuestion: "CMUC00135W",
  userRemoved: "CMUC00136I",
} as const;

const ERROR_IDS: Record<string, string> = {
  BAD_ARGUMENT: "CMUN00011E",
  BAD_VOLUME_ID: "CMUN00012E",
  IMAGE_NOT_FOUND: "CMUN02001E",
  IMAGE_EXISTS: "CMUN02002E",
  BAD_MODEL: "CMUN02003E",
  VOLUME_EXISTS: "CMUN02004E",
  VOLUME_NOT_FOUND: "CMUN02013E",
  BAD_CAPACITY: "CMUN02025E",
  BAD_OS_TYPE: "CMUN02026E",
  OUT_OF_RANGE: "CMUN02030E",
  NO_SPACE: "CMUN02031E",
  BUSY: "CMUN02032E",
  TIMEOUT: "CMUN02033E",
  LIMIT_REACHED: "CMUN02034E",
  CLOSED: "CMUN02035E",
  LOCK_TIMEOUT: "CMUN02036E",
  DRAIN_TIMEOUT: "CMUN02037E",
  ALLOC_LOCK_TIMEOUT: "CMUN02038E",
  GATE_TIMEOUT: "CMUN02039E",
  FROZEN: "CMUN02040E",
  CORE_ABORT: "CMUN02041E",
  WORKER_EXITED: "CMUN02042E",
  SOURCE_EQUALS_TARGET: "CMUN03040E",
  TARGET_TOO_SMALL: "CMUN03041E",
  LSS_MISMATCH: "CMUN03042E",
  VOLUME_IN_RELATIONSHIP: "CMUN03043E",
  TOO_MANY_TARGETS: "CMUN03044E",
  TARGET_HAS_SOURCE: "CMUN03045E",
  CASCADE_NOT_ALLOWED: "CMUN03046E",
  OS_MISMATCH: "CMUN03047E",
  RELATIONSHIP_NOT_FOUND: "CMUN03048E",
  TARGET_WRITE_INHIBITED: "CMUN03049E",
  VOLUME_UNUSABLE: "CMUN03050E",
  NOT_SUPPORTED: "CMUN03051E",
  NOT_INCREMENTAL: "CMUN03052E",
  COPY_INCOMPLETE: "CMUN03053E",
  REVERTIBLE: "CMUN03054E",
  NOT_REVERTIBLE: "CMUN03055E",
  LONG_BUSY: "CMUN03056E",
  LSS_NOT_FOUND: "CMUN03057E",
  PPRC_SECONDARY: "CMUN03060E",
  MIRROR_FAILED: "CMUN03061E",
  BAD_PORT: "CMUN03062E",
  PATH_NOT_FOUND: "CMUN03063E",
  PATH_IN_USE: "CMUN03064E",
  PAIR_NOT_FOUND: "CMUN03065E",
  VOLUME_IN_PAIR: "CMUN03066E",
  PAIR_STATE: "CMUN03067E",
  FILE_ERROR: "CMUN09001E",
  WORKLOAD_NOT_FOUND: "CMUN09002E",
  WORKLOAD_EXISTS: "CMUN09003E",
  WORKLOAD_FAILED: "CMUN09004E",
  CANCELLED: "CMUN09005E",
  UNDEFINED_VARIABLE: "CMUN09006E",
  TYPE_ERROR: "CMUN09007E",
  NO_SUCH_FIELD: "CMUN09008E",
  SOURCE_ERROR: "CMUN09009E",
  VALUE_TOO_LARGE: "CMUN09010E",
  NO_STATE_FILE: "CMUN09040E",
  NOT_FOUND: "CMUN09041E",
  IO_ERROR: "CMUN09042E",
  BAD_MAGIC: "CMUN09043E",
  UNSUPPORTED_VERSION: "CMUN09044E",
  TRUNCATED: "CMUN09045E",
  CHECKSUM_MISMATCH: "CMUN09046E",
  BAD_LENGTH: "CMUN09047E",
  NOT_MSGPACK: "CMUN09048E",
  BAD_RECORD: "CMUN09049E",
  TRAILING_DATA: "CMUN09050E",
  FROZEN_TOO_LONG: "CMUN09051E",
  ABANDONED: "CMUN09052E",
  BAD_POOL_ID: "CMUN02060E",
  POOL_NOT_FOUND: "CMUN02061E",
  POOL_EXISTS: "CMUN02062E",
  POOL_NOT_EMPTY: "CMUN02063E",
  RANKGROUP_MISMATCH: "CMUN02064E",
  UNKNOWN_OPTION: "CMUN00013E",
  BAD_PROFILE: "CMUN09060E",
  VOLGRP_NOT_FOUND: "CMUN09070E",
  VOLGRP_EXISTS: "CMUN09071E",
  VOLGRP_IN_USE: "CMUN09072E",
  VOLUME_MAPPED: "CMUN09073E",
  HOST_NOT_FOUND: "CMUN09074E",
  HOST_EXISTS: "CMUN09075E",
  BAD_HOST_TYPE: "CMUN09076E",
  BAD_WWPN: "CMUN09077E",
  // Users and logins of a Copy Services Server (src/server/users.ts, sessions.ts) and its connection.
  NO_USERS: "CMUN04000E",
  BAD_NAME: "CMUN04001E",
  BAD_PASSWORD: "CMUN04002E",
  PASSWORD_REUSED: "CMUN04003E",
  BAD_GROUP: "CMUN04004E",
  USER_EXISTS: "CMUN04005E",
  NO_SUCH_USER: "CMUN04006E",
  LAST_ADMIN: "CMUN04007E",
  NOT_AUTHORIZED: "CMUN04008E",
  PASSWORD_EXPIRED: "CMUN04009E",
  AUTHENTICATION_FAILED: "CMUN04010E",
  ACCOUNT_LOCKED: "CMUN04011E",
  TOKEN_MISSING: "CMUN04012E",
  TOKEN_UNKNOWN: "CMUN04013E",
  TOKEN_EXPIRED: "CMUN04014E",
  TOKEN_IDLE: "CMUN04015E",
  SESSIONS_FULL: "CMUN04016E",
  UNAUTHENTICATED: "CMUN04017E",
  CONNECTION_FAILED: "CMUN04020E",
};

export const UNKNOWN_ERROR_ID = "CMUN09999E";

export function errorId(code: string): string {
  return ERROR_IDS[code] ?? UNKNOWN_ERROR_ID;
}

// `CMUN03042E mkflash: FlashCopy pair 1000:1101: ...`
export function errorLine(command: string, code: string, message: string): string {
  return `${errorId(code)} ${command}: ${escapeControl(message)}`;
}

const CONTROL = /[\u0000-\u001F\u007F]/g;
const HAS_CONTROL = /[\u0000-\u001F\u007F]/;
const CONTROL_ESCAPES: Record<string, string> = { "\0": "\\0", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

// Control characters a user typed into a value (`-name "a\0b"`) are shown as
// the language writes them (\0, \t, \n, \r, else \xNN), never sent raw to a
// terminal, where a NUL or an escape would garble or drive it.
// Most text has none: testing first spares a listing's every cell the
// replace and its string (a long lsfbvol -l is tens of thousands of cells).
export function escapeControl(text: string): string {
  if (!HAS_CONTROL.test(text)) return text;
  return text.replace(CONTROL, (char) => CONTROL_ESCAPES[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function infoLine(id: string, command: string, message: string): string {
  return `${id} ${command}: ${message}`;
}
