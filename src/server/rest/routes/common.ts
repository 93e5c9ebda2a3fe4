// Helpers shared by the resource routes: route configs by command class, and
// the one-item GET that answers 404 for an ID that is not there.
import type { RestRouteConfig } from "../context.js";
import { RestError } from "../errors.js";

export const MONITOR: RestRouteConfig = { commandClass: "monitor" };
export const VOLUME: RestRouteConfig = { commandClass: "volume" };
export const COPY_SERVICES: RestRouteConfig = { commandClass: "copy_services" };

export function findOne<T extends { id: string }>(items: readonly T[], id: string, what: string, code: string): T {
  const found = items.find((item) => item.id.toUpperCase() === id.toUpperCase());
  if (found === undefined) throw new RestError(404, code, `there is no ${what} ${id}`, "id");
  return found;
}

// DS8000 sends numbers as decimal strings.
export const text = (value: number): string => String(value);
