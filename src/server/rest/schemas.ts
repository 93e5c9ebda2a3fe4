// Request validation: every body, path parameter and (where it matters) query
// is checked against a TypeBox schema before its handler runs, by TypeBox's
// own compiler rather than fastify's default Ajv, because Ajv as fastify sets
// it up drops unknown fields and coerces types silently, and this API refuses
// both, naming the field (design.md §12: a bad request changes nothing).
import { Type, type TSchema, type Static } from "@sinclair/typebox";
import { TypeCompiler, type ValueError } from "@sinclair/typebox/compiler";
import type { FastifySchemaCompiler } from "fastify";
import { RestError } from "./errors.js";

// DS8000 bodies: {"request":{"params":{...}}}, nothing else beside.
export function requestBody<T extends TSchema>(params: T) {
  return Type.Object({ request: Type.Object({ params }, { additionalProperties: false }) }, { additionalProperties: false });
}

export type RequestBody<T extends TSchema> = Static<ReturnType<typeof requestBody<T>>>;

// DS8000 clients send numbers as strings ("cap": "10") or as numbers.
export const NumberText = Type.Union([Type.String({ maxLength: 32 }), Type.Number()]);

export const VOLUME_ID = "^[0-9A-Fa-f]{4}$";
export const LSS_ID = "^[0-9A-Fa-f]{2}$";
export const POOL_ID = "^[Pp][0-9]{1,2}$";
export const PAIR_ID = "^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$";
export const PORT_ID = "^[Ii][0-9A-Fa-f]{4}$";
export const SYSTEM_ID = "^[A-Za-z0-9.-]{1,32}$";

export function idParams(pattern: string, what: string) {
  return Type.Object({ id: Type.String({ pattern, description: what }) });
}

// The schema compiler of this API's routes: a failure names the part of the
// request (body, params, querystring) and the field, e.g.
// `body request.params.cap: Expected union value`.
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  return (data: unknown) => {
    if (check.Check(data)) return { value: data };
    const first = check.Errors(data).First();
    return { error: validationError(httpPart ?? "request", first) };
  };
};

const PART_NAMES: Record<string, string> = { body: "body field", params: "path parameter", querystring: "query parameter", headers: "header" };

function validationError(part: string, error: ValueError | undefined): RestError {
  if (error === undefined) return new RestError(400, "BAD_REQUEST", `the ${part} is not valid`);
  const field = fieldName(error.path);
  const where = field === "" ? `the ${part}` : `${PART_NAMES[part] ?? part} ${field}`;
  const code = part === "params" ? "BAD_ID" : "BAD_REQUEST";
  return new RestError(400, code, `${where}: ${describe(error)}`, field === "" ? part : field);
}

// "/request/params/volume_pairs/0/source_volume" → "request.params.volume_pairs[0].source_volume"
export function fieldName(path: string): string {
  return path.split("/").filter((part) => part !== "").map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`)).join("");
}

function describe(error: ValueError): string {
  const value = error.value === undefined ? "missing" : JSON.stringify(error.value)?.slice(0, 64) ?? String(error.value);
  if (error.message === "Unexpected property") return "is not a field this request takes";
  if (error.value === undefined) return "is required";
  return `${error.message[0].toLowerCase()}${error.message.slice(1)}, not ${value}`;
}
