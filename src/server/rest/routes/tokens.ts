// POST /api/v1/tokens: login. The reply has a top-level `token` object (no
// `data`), which is where pyds8k and Cinder's DS8K driver read it:
//   {"server":{...},"token":{"token","expired_time","max_idle_interval"}}
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { RestAuth } from "../auth.js";
import type { RestContext, RestRouteConfig } from "../context.js";
import { authError } from "../errors.js";
import { OK } from "../reply.js";
import { requestBody, type RequestBody } from "../schemas.js";

const LoginParams = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 256 }),
  // The HMCs of a standalone REST server: this one is its own, so they are taken and not used.
  hmc1: Type.Optional(Type.String({ maxLength: 256 })),
  hmc2: Type.Optional(Type.String({ maxLength: 256 })),
}, { additionalProperties: false });
const LoginBody = requestBody(LoginParams);

export function loginRoutes(auth: RestAuth) {
  return (app: FastifyInstance, _context: RestContext): void => {
    const config: RestRouteConfig = { commandClass: null };
    app.post<{ Body: RequestBody<typeof LoginParams> }>("/tokens", { schema: { body: LoginBody }, config }, async (request) => {
      const { username, password } = request.body.request.params;
      let login;
      try {
        login = await auth.login(username, password);
      } catch (error) {
        throw authError(error, "AUTHENTICATION_FAILED", "request.params.password");
      }
      const token: Record<string, string> = { token: login.token, expired_time: new Date(login.expiresAtMs).toISOString() };
      if (login.idleMs !== undefined) token.max_idle_interval = String(login.idleMs);
      return { server: OK, token };
    });
  };
}
