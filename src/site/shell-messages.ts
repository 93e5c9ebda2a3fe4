// The messages of a remote shell's connection to the /cs/shell endpoint of a
// Copy Services Server: the login (or the resumption of a session by its
// token) that must come first, then the Site RPC (protocol.ts). Both ends
// use this one registry.
import { Type } from "@sinclair/typebox";
import { defineMessages } from "../wire/messages.js";
import { siteMessageSpecs } from "./protocol.js";

export const SHELL_PATH = "/cs/shell";
export const SHELL_PORT_DEFAULT = 8452; // DS CLI's port of the management console
export const SHELL_ROLE = "shell";
export const SHELL_ENDPOINT_ROLE = "shell-endpoint";
export const USER_NAME_LENGTH_MAX = 64;
export const PASSWORD_LENGTH_MAX = 256;
const TOKEN_LENGTH_MAX = 64;

const Session = Type.Object({
  user: Type.String({ maxLength: USER_NAME_LENGTH_MAX }),
  token: Type.String({ maxLength: TOKEN_LENGTH_MAX }),
  expires_at: Type.Number(),
  password_expired: Type.Boolean(),
}, { additionalProperties: false });

// What the shell runs its commands from, for the server's event log: typed at a prompt, or a script.
export const SHELL_MODES = ["shell", "script"] as const;
export type ShellMode = (typeof SHELL_MODES)[number];
const Mode = Type.Optional(Type.Union(SHELL_MODES.map((mode) => Type.Literal(mode))));

export const shellMessageSpecs = {
  "shell.login": {
    body: Type.Object({ user: Type.String({ maxLength: USER_NAME_LENGTH_MAX }), password: Type.String({ maxLength: PASSWORD_LENGTH_MAX }), mode: Mode }, { additionalProperties: false }),
    reply: "shell.session",
  },
  "shell.resume": { body: Type.Object({ token: Type.String({ maxLength: TOKEN_LENGTH_MAX }), mode: Mode }, { additionalProperties: false }), reply: "shell.session" },
  // A refused login answers with its error instead (code AUTHENTICATION_FAILED, ACCOUNT_LOCKED, TOKEN_EXPIRED...).
  "shell.session": {
    body: Type.Object({
      session: Type.Optional(Session),
      error: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 1024 }) }, { additionalProperties: false })),
    }, { additionalProperties: false }),
  },
} as const;

export const shellMessages = defineMessages({ ...siteMessageSpecs, ...shellMessageSpecs });
