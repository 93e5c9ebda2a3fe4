/** @jsxImportSource preact */
// What a view says while its listing loads, or when the server refused it.
import { useStore } from "../hooks.js";
import type { Section } from "../store.js";

export function SectionState(props: { sections: Section[] }) {
  const errors = useStore((state) => props.sections.map((section) => state.errors[section]).filter((error): error is string => error !== undefined).join("\n"));
  const loading = useStore((state) => props.sections.some((section) => !state.loaded[section]));
  if (errors !== "") return <pre class="errors" role="alert">{errors}</pre>;
  if (loading) return <p class="muted" role="status">Loading…</p>;
  return null;
}
