// Helpers of the REST API tests: an auth built from the server's own users
// and sessions (with an injected clock, so tokens expire without waiting),
// a REST server over an EmbeddedSite, and request shorthands.
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import * as assert from "uvu/assert";
import { EmbeddedSite } from "../../src/site/embedded.js";
import { restServer, type RestAuth } from "../../src/server/rest/index.js";
import { applyUserRecord, authenticate, findUser, mkuser, type UserGroup, type UsersState } from "../../src/server/users.js";
import { Sessions } from "../../src/server/sessions.js";
import { UserError } from "../../src/server/user-errors.js";
import { config, siteWithAdmin } from "./support.js";

export const IMAGE = "IBM.2107-75REST1";
export const MINUTE = 60_000;

export interface Clock {
  now: number;
}

// The login and token check a Copy Services Server makes, from users.ts and sessions.ts.
export function usersAuth(users: { state: UsersState }, sessions: Sessions): RestAuth {
  return {
    async login(user, password) {
      const outcome = await authenticate(users.state, user, password, config);
      if (outcome.record !== null) users.state = applyUserRecord(users.state, outcome.record);
      if (!outcome.ok) throw outcome.error;
      const issued = await sessions.issue(outcome.name);
      return { token: issued.token, expiresAtMs: issued.expiresAt, idleMs: sessions.idleMs };
    },
    check(token) {
      const session = sessions.check(token);
      const account = findUser(users.state, session.user);
      if (account === undefined) throw new UserError("TOKEN_UNKNOWN", `user ${session.user} no longer exists`, "token");
      return { user: account.name, groups: account.groups };
    },
  };
}

export interface RestFixture {
  app: FastifyInstance;
  site: EmbeddedSite;
  clock: Clock;
  users: { state: UsersState };
  adminPassword: string;
  token: string; // admin's
  close(): Promise<void>;
}

// The served image is IMAGE; `images` adds others (PPRC needs a second one).
export async function restFixture(options: { baseUrl?: string; images?: string[] } = {}): Promise<RestFixture> {
  const { state, adminPassword } = await siteWithAdmin();
  const users = { state };
  const clock: Clock = { now: 1_800_000_000_000 };
  const sessions = new Sessions({ now: () => clock.now, lifetimeMs: 60 * MINUTE, idleMs: 10 * MINUTE });
  const images = [IMAGE, ...(options.images ?? [])].map((id) => ({ model: "2107" as const, id }));
  const site = new EmbeddedSite({ workers: 1, images });
  const app = await restServer({ site, auth: usersAuth(users, sessions), imageId: IMAGE, ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }) });
  await app.ready();
  const fixture: RestFixture = { app, site, clock, users, adminPassword, token: "", close: async () => { await app.close(); await site.close(); } };
  fixture.token = await login(app, "admin", adminPassword);
  return fixture;
}

export async function addUser(fixture: RestFixture, name: string, group: UserGroup, password: string): Promise<void> {
  const record = await mkuser(fixture.users.state, "admin", { name, password, groups: group }, config);
  fixture.users.state = applyUserRecord(fixture.users.state, record);
}

export const params = (values: object) => ({ request: { params: values } });

export async function login(app: FastifyInstance, username: string, password: string): Promise<string> {
  const reply = await app.inject({ method: "POST", url: "/api/v1/tokens", payload: params({ username, password }) });
  assert.is(reply.statusCode, 200, reply.body);
  return reply.json().token.token;
}

export function call(fixture: RestFixture, method: "GET" | "POST" | "PUT" | "DELETE", url: string, body?: object, token = fixture.token): Promise<LightMyRequestResponse> {
  return fixture.app.inject({ method, url, headers: { "x-auth-token": token, host: "array.example:8452" }, ...(body === undefined ? {} : { payload: body }) });
}

// A failed reply: its status, status "failed" and the code; returns the message.
export function assertFailed(reply: LightMyRequestResponse, statusCode: number, code: string): string {
  const body = reply.json();
  assert.is(reply.statusCode, statusCode, reply.body);
  assert.is(body.server.status, "failed", reply.body);
  assert.is(body.server.code, code, reply.body);
  assert.is(typeof body.server.message, "string");
  return body.server.message;
}

export function dataOf(reply: LightMyRequestResponse, kind: string): Array<Record<string, any>> {
  assert.ok(reply.statusCode < 300, `status ${reply.statusCode}: ${reply.body}`);
  const body = reply.json();
  assert.equal(Object.keys(body.data), [kind], "data holds exactly one key, the kind");
  assert.is(body.server.status, "ok");
  return body.data[kind];
}
